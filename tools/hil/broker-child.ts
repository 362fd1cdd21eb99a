// The host broker in a child process of its own, so its CPU and memory are
// measured apart from the simulator's (tools/simulate.ts). Talks over IPC:
// sends {ready, port, controlUrl, token}; answers {usage} with process.cpuUsage(),
// process.memoryUsage(), connected clients and telemetry messages seen; {stop} closes the hub and exits.
import { startLocalHub } from './hub';

async function main(): Promise<void> {
  if (!process.send) throw new Error('broker-child: expected to be started with an IPC channel (child_process.fork)');
  const hub = await startLocalHub({});
  let telemetry = 0;
  hub.running.broker.on('message', (topic: string) => { if (/^devices\/[^/]+\/telemetry$/.test(topic)) telemetry++; });
  process.on('message', async (m: any) => {
    if (m && m.usage) process.send!({ usage: { cpu: process.cpuUsage(), memory: process.memoryUsage(), clients: hub.running.broker.clients().length, telemetry } });
    if (m && m.stop) {
      await hub.close();
      process.exit(0);
    }
  });
  process.on('disconnect', () => { void hub.close().then(() => process.exit(0)); });
  process.send({ ready: true, port: hub.port, controlUrl: hub.controlUrl, token: hub.token });
}

main().catch((err) => {
  process.stderr.write(`broker-child: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});
