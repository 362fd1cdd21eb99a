// The HIL scenario runner: `npm run hil -- --mode sim|espruino|serial`.
// Starts the host broker (SQLite-backed, control API on), then for each scenario
// starts the HIL agent on the board under test and checks the outcome through
// the broker's control API. Prints which scenarios passed, failed or were
// skipped in this mode. See docs/boards.md.
import { Command, Option } from 'commander';
import { loadBoard } from '../../boards/profiles';
import { ensureBuilt } from './build';
import { Driver, espruinoDriver, Load, Mode, RunningAgent, serialDriver, simDriver } from './drivers';
import { startLocalHub } from './hub';
import { SCENARIOS, Scenario } from './scenarios';

export interface HilOptions {
  mode: Mode;
  /** Board profile for sim and serial (espruino picks the bundle that suits the interpreter). */
  board?: string;
  /** espruino mode: boot the board image from flash (default), or upload to RAM. */
  load?: Load;
  only?: string[];
  port?: string;
  baud?: number;
  /** The broker's address as the board sees it (serial mode); the broker then listens on 0.0.0.0. */
  brokerHost?: string;
  scenarioTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface HilResult { scenario: string; title: string; mode: Mode; board: string; status: 'pass' | 'fail' | 'skip'; detail: string; ms: number }

export function driverFor(o: HilOptions): Driver {
  if (o.mode === 'sim') return simDriver(o.board ?? 'esp32');
  if (o.mode === 'espruino') return espruinoDriver(o.load ?? 'flash');
  if (o.mode === 'serial') return serialDriver(o.board ?? 'esp32', o.port, o.baud ?? 115200);
  throw new Error(`--mode: expected sim, espruino or serial, got ${JSON.stringify(o.mode)}`);
}

export function selectScenarios(only?: string[]): Scenario[] {
  if (!only || !only.length) return SCENARIOS;
  const unknown = only.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`--only: unknown scenario ${unknown.join(', ')} (expected some of: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  return SCENARIOS.filter((s) => only.includes(s.name));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: no outcome within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

export async function runHil(o: HilOptions): Promise<HilResult[]> {
  const log = o.log ?? (() => undefined);
  const driver = driverFor(o);
  const scenarios = selectScenarios(o.only);
  const skip = driver.unavailable();
  if (skip) {
    log(`mode ${driver.mode}: skipped: ${skip}`);
    return scenarios.map((s) => ({ scenario: s.name, title: s.title, mode: driver.mode, board: driver.board, status: 'skip', detail: skip, ms: 0 }));
  }
  await driver.prepare?.(log);
  ensureBuilt([driver.board], log);
  const profile = loadBoard(driver.board);
  const hub = await startLocalHub({ persistent: true, host: o.brokerHost ? '0.0.0.0' : '127.0.0.1' });
  const wifi = process.env.WIFI_SSID ? { ssid: process.env.WIFI_SSID, password: process.env.WIFI_PASSWORD ?? '' } : undefined;
  const results: HilResult[] = [];
  const tag = Math.random().toString(36).slice(2, 6);
  try {
    for (const s of scenarios) {
      const id = `hil-${driver.mode}-${s.name}-${tag}`;
      const t0 = Date.now();
      let agent: RunningAgent | undefined;
      let status: HilResult['status'] = 'pass';
      let detail: string;
      try {
        const since = (await hub.control.messages({ filter: '$none' })).lastSeq;
        agent = await driver.start({ id, host: o.brokerHost ?? '127.0.0.1', port: hub.port, keepalive: 2, ...(driver.mode === 'serial' && wifi ? { wifi } : {}) });
        const a = agent;
        // An 'Uncaught' or 'MEMORY' line on the board ends the scenario at once.
        let watch: NodeJS.Timeout | undefined;
        const crashed = new Promise<never>((_, reject) => {
          watch = setInterval(() => { if (a.failures().length) reject(new Error('the board failed')); }, 100);
        });
        try {
          detail = await withTimeout(Promise.race([s.run({ id, control: hub.control, profile, since, restartBroker: () => hub.restart(200) }), crashed]),
            o.scenarioTimeoutMs ?? 90000, s.name);
        } finally {
          clearInterval(watch);
        }
        const failures = agent.failures();
        if (failures.length) { status = 'fail'; detail = `the board printed: ${failures.slice(0, 3).join(' | ')}`; }
      } catch (err: any) {
        status = 'fail';
        const failures = agent ? agent.failures() : [];
        detail = (err && err.message ? err.message : String(err)) + (failures.length ? `; the board printed: ${failures.slice(0, 3).join(' | ')}` : '');
      } finally {
        await agent?.stop().catch(() => undefined);
        await hub.control.clearFaults().catch(() => undefined);
      }
      const r: HilResult = { scenario: s.name, title: s.title, mode: driver.mode, board: driver.board, status, detail: detail!, ms: Date.now() - t0 };
      results.push(r);
      log(`${status.toUpperCase().padEnd(4)} ${s.name.padEnd(16)} ${(r.ms / 1000).toFixed(1).padStart(5)} s  ${r.detail}`);
    }
  } finally {
    await hub.close();
  }
  return results;
}

export function summary(results: HilResult[]): string {
  const n = (st: string) => results.filter((r) => r.status === st).length;
  const r0 = results[0];
  return r0 ? `${r0.mode} (${r0.board}): ${n('pass')} passed, ${n('fail')} failed, ${n('skip')} skipped of ${results.length}` : 'no scenarios';
}

async function main(): Promise<void> {
  const program = new Command('npm run hil --')
    .description(`Run the HIL scenarios (${SCENARIOS.map((s) => s.name).join(', ')}) against the host broker on a board: simulated, the Linux interpreter (ESPRUINO_BIN) or a real one on a serial port.`)
    .addOption(new Option('--mode <mode>', 'where the board runs').choices(['sim', 'espruino', 'serial']).default('sim'))
    .addOption(new Option('--board <name>', 'board profile (sim, serial)').choices(['esp32', 'esp8266']).default('esp32'))
    .addOption(new Option('--load <how>', 'espruino mode: boot the board image from flash (as `npm run flash` writes it), or upload the module and agent to RAM (as pasting into the IDE does)').choices(['flash', 'ram']).default('flash'))
    .option('--only <names>', 'comma-separated scenario names', (v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--port <device>', 'serial mode: the board\'s port, e.g. /dev/ttyUSB0')
    .addOption(new Option('--baud <n>', 'serial mode: speed').argParser(Number).default(115200))
    .option('--broker-host <addr>', 'serial mode: the broker\'s address as the board sees it (the broker then listens on 0.0.0.0)')
    .option('--json', 'print the results as JSON')
    .showHelpAfterError('(run with --help for usage)');
  program.parse(process.argv);
  const o = program.opts();
  if (o.mode === 'serial' && !o.brokerHost) throw new Error('serial mode: give --broker-host <this machine\'s address on the board\'s network>');
  const results = await runHil({ ...o, log: o.json ? undefined : (l) => console.log(l) } as HilOptions);
  console.log(o.json ? JSON.stringify(results) : summary(results));
  if (results.some((r) => r.status === 'fail')) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`hil: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
