// `npm run simulate -- --boards N [--duration S]`: a fleet of simulated boards
// running the telemetry app against the host broker, which runs in a child
// process so that each side's CPU and memory are measured on its own
// (process.cpuUsage / process.memoryUsage). Reports connections, messages per
// second, and both processes' CPU and memory.
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Board } from '../boards/sim';
import { ControlClient } from '../host-broker/control/http-client';
import { ensureBuilt } from './hil/build';
import { startTelemetryBoard } from './hil/sim-app';

export interface SimulateOptions { boards: number; board: string; duration: number; interval: number }

export interface Usage { cpuMs: number; cpuPercent: number; rssMiB: number; heapMiB: number }

export interface SimulateReport {
  boards: number;
  board: string;
  seconds: number;
  connected: number;
  messages: number;
  messagesPerSecond: number;
  boardErrors: number;
  broker: Usage;
  simulator: Usage;
}

const intArg = (min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number ${min}..${max}`);
  return n;
};

const MiB = 1024 * 1024;

function usage(cpu0: NodeJS.CpuUsage, cpu1: NodeJS.CpuUsage, mem: NodeJS.MemoryUsage, seconds: number): Usage {
  const cpuMs = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / 1000;
  return { cpuMs: Math.round(cpuMs), cpuPercent: Math.round(cpuMs / 10 / seconds * 10) / 10, rssMiB: Math.round(mem.rss / MiB * 10) / 10, heapMiB: Math.round(mem.heapUsed / MiB * 10) / 10 };
}

function startBrokerChild(): Promise<{ child: ChildProcess; port: number; controlUrl: string; token: string; ask(): Promise<any> }> {
  const child = fork(path.join(__dirname, 'hil', 'broker-child.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the broker process exited (code ${code}) before it was ready`)));
    child.once('message', (m: any) => {
      if (!m || !m.ready) return reject(new Error(`broker process: unexpected first message ${JSON.stringify(m)}`));
      child.removeAllListeners('exit');
      const ask = () => new Promise<any>((res) => {
        child.once('message', (a: any) => res(a.usage));
        child.send({ usage: true });
      });
      resolve({ child, port: m.port, controlUrl: m.controlUrl, token: m.token, ask });
    });
  });
}

export async function runSimulate(o: SimulateOptions, say: (line: string) => void = console.log): Promise<SimulateReport> {
  ensureBuilt([o.board], say);
  const broker = await startBrokerChild();
  const control = new ControlClient(broker.controlUrl, { token: broker.token });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'espruino-simulate-'));
  const boards: Board[] = [];
  try {
    say(`broker (pid ${broker.child.pid}) on mqtt://127.0.0.1:${broker.port}; starting ${o.boards} simulated ${o.board} boards, a reading every ${o.interval} ms each`);
    const b0 = await broker.ask();
    const s0 = process.cpuUsage();
    const t0 = Date.now();
    let boardErrors = 0;
    for (let i = 1; i <= o.boards; i++) {
      const id = `${o.board}-fleet-${i}`;
      boards.push(startTelemetryBoard({
        board: o.board, storageDir: path.join(tmp, id),
        config: { id, host: '127.0.0.1', port: broker.port, interval: o.interval },
        log: (line) => { if (line.startsWith('Uncaught')) { boardErrors++; if (boardErrors <= 5) say(`${id}: ${line}`); } },
      }));
    }
    const progress = setInterval(async () => {
      const clients = (await control.clients().catch(() => [])).length;
      say(`  ${Math.round((Date.now() - t0) / 1000)} s: ${clients}/${o.boards} connected`);
    }, 5000);
    await new Promise((r) => setTimeout(r, o.duration * 1000));
    clearInterval(progress);
    const seconds = (Date.now() - t0) / 1000;
    const s1 = process.cpuUsage();
    const simMem = process.memoryUsage();
    const b1 = await broker.ask();
    const messages = b1.telemetry - b0.telemetry;
    const report: SimulateReport = {
      boards: o.boards, board: o.board, seconds: Math.round(seconds * 10) / 10,
      connected: b1.clients, messages, messagesPerSecond: Math.round(messages / seconds * 10) / 10, boardErrors,
      broker: usage(b0.cpu, b1.cpu, b1.memory, seconds),
      simulator: usage(s0, s1, simMem, seconds),
    };
    return report;
  } finally {
    boards.forEach((b) => b.destroy());
    broker.child.send({ stop: true });
    await new Promise((r) => { broker.child.once('exit', r); setTimeout(r, 5000).unref(); });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function formatReport(r: SimulateReport): string {
  const u = (x: Usage) => `CPU ${x.cpuMs} ms (${x.cpuPercent}% of one core), RSS ${x.rssMiB} MiB, heap ${x.heapMiB} MiB`;
  return [
    `${r.boards} simulated ${r.board} boards for ${r.seconds} s`,
    `  connections: ${r.connected}/${r.boards}`,
    `  telemetry:   ${r.messages} messages, ${r.messagesPerSecond}/s`,
    `  board errors: ${r.boardErrors}`,
    `  broker:      ${u(r.broker)}`,
    `  simulator:   ${u(r.simulator)}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const program = new Command('npm run simulate --')
    .description('Run a fleet of simulated boards (telemetry app) against the host broker in a child process; report connections, messages/s, and each side\'s CPU and memory.')
    .addOption(new Option('--boards <n>', 'simulated boards').argParser(intArg(1, 2000)).default(10))
    .addOption(new Option('--board <name>', 'board profile').choices(['esp32', 'esp8266']).default('esp32'))
    .addOption(new Option('--duration <s>', 'seconds to run').argParser(intArg(1, 86400)).default(10))
    .addOption(new Option('--interval <ms>', 'ms between readings on each board').argParser(intArg(100, 86400000)).default(1000))
    .option('--json', 'print the report as JSON')
    .showHelpAfterError('(run with --help for usage)');
  program.parse(process.argv);
  const o = program.opts() as SimulateOptions & { json?: boolean };
  const r = await runSimulate(o, o.json ? () => undefined : console.log);
  console.log(o.json ? JSON.stringify(r) : formatReport(r));
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`simulate: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
