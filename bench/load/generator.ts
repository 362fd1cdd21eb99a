// The load generator process: one per bench run, driven over IPC by the parent
// (bench/load/client.ts), so its CPU is its own and apart from the brokers'.
import { runLatency, runThroughput, type LoadJob } from './scenario';
import { runPaced } from './paced';

interface Request { id: number; job: LoadJob }

process.on('message', (m: Request) => {
  const run = m.job.kind === 'latency' ? runLatency : m.job.kind === 'paced' ? runPaced : runThroughput;
  run(m.job, (mark) => process.send!({ id: m.id, mark })).then(
    (result) => process.send!({ id: m.id, result }),
    (e: Error) => process.send!({ id: m.id, error: e.stack ?? String(e) }),
  );
});
process.on('disconnect', () => process.exit(0));
