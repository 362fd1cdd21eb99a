// Where the HIL agent runs: a simulated board (boards/sim), the Espruino
// interpreter built for Linux (ESPRUINO_BIN, through boards/espruino-bin), or a
// real board on a serial port (espruino-tools). Each driver starts the same agent
// on top of the same dist/<board>/mqtt-client.js. In the interpreter the agent
// boots from flash as a flashed board runs it: the image `npm run flash -- --out`
// writes (tools/image.ts), with the agent as the app; or, with load 'ram', the
// module and the agent go to RAM as pasting into the IDE does.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createBoard } from '../../boards/sim';
import { bundleFile, DIST, ROOT } from './build';
import { boardFiles, checkFit } from '../flash';
import { storageWrites } from '../image';

export type Mode = 'sim' | 'espruino' | 'serial';

export interface AgentConfig { id: string; host: string; port: number; keepalive: number; wifi?: { ssid: string; password: string } }

export interface RunningAgent {
  /** Failure lines the board printed ('Uncaught ...', 'MEMORY'). */
  failures(): string[];
  stop(): Promise<void>;
}

export interface Driver {
  mode: Mode;
  /** The board profile whose bundle runs (for the interpreter: the one that suits it, known after prepare()). */
  board: string;
  /** Why this mode cannot run here, or null when it can. */
  unavailable(): string | null;
  /** Called once before the first start(), when the mode is available. */
  prepare?(log: (line: string) => void): Promise<void>;
  start(cfg: AgentConfig): Promise<RunningAgent>;
}

/** How the interpreter gets the code: booted from flash (the board image) or uploaded to RAM. */
export type Load = 'flash' | 'ram';

export const AGENT_FILE = path.join(__dirname, 'agent.js');
const agentSource = () => fs.readFileSync(AGENT_FILE, 'utf8');
const moduleSource = (board: string) => fs.readFileSync(bundleFile(board, 'mqtt-client'), 'utf8');

export function simDriver(board: string): Driver {
  return {
    mode: 'sim', board,
    unavailable: () => null,
    async start(cfg) {
      const b = createBoard({ board });
      b.addModule('mqtt-client', moduleSource(board));
      b.eval(`var HIL = ${JSON.stringify(cfg)};`);
      b.eval(agentSource());
      return { failures: () => b.errors.slice(), stop: async () => b.destroy() };
    },
  };
}

interface EspruinoRun { lines: string[]; stop(): Promise<unknown> }

interface EspruinoBin {
  espruinoBin(env?: NodeJS.ProcessEnv): string | null;
  ESPRUINO_BIN_SKIP_MESSAGE: string;
  interpreterInfo(bin: string): Promise<{ total: number; unicode: boolean; board: string }>;
  startEspruino(o: { modules?: Record<string, string>; script: string; timeoutMs?: number }): EspruinoRun;
  bootEspruino(o: { writes: string; timeoutMs?: number }): Promise<EspruinoRun>;
  failureLines(lines: string[]): string[];
}

/** boards/espruino-bin (the simulator developer's runner) when it is in this checkout. */
function loadEspruinoBin(): EspruinoBin | null {
  try {
    return require(path.join(ROOT, 'boards', 'espruino-bin')) as EspruinoBin;
  } catch {
    return null;
  }
}

export function espruinoDriver(load: Load = 'flash'): Driver {
  const eb = loadEspruinoBin();
  const driver: Driver = {
    mode: 'espruino', board: 'linux',
    unavailable() {
      if (!eb) return 'boards/espruino-bin.ts (the ESPRUINO_BIN runner) is not in this checkout';
      return eb.espruinoBin() ? null : eb.ESPRUINO_BIN_SKIP_MESSAGE;
    },
    async prepare(log) {
      const bin = eb!.espruinoBin()!;
      const info = await eb!.interpreterInfo(bin);
      driver.board = info.board;
      log(`interpreter ${bin}: ${info.total} vars, ${info.unicode ? 'unicode' : 'byte'} strings -> the ${info.board} bundle, code ${load === 'flash' ? 'booted from flash (the board image)' : 'uploaded to RAM'}`);
    },
    async start(cfg) {
      let s: EspruinoRun;
      if (load === 'flash') {
        const files = boardFiles(driver.board, 'HIL', cfg, agentSource());
        // As `npm run flash` does: an image that does not fit is refused here, not on the board.
        checkFit(driver.board, files);
        // The image's Storage writes, then power-up: the boot code runs from flash.
        s = await eb!.bootEspruino({ writes: storageWrites(files), timeoutMs: 600000 });
      } else {
        s = eb!.startEspruino({ modules: { 'mqtt-client': moduleSource(driver.board) }, script: `var HIL = ${JSON.stringify(cfg)};\n${agentSource()}`, timeoutMs: 600000 });
      }
      return { failures: () => eb!.failureLines(s.lines), stop: async () => { await s.stop(); } };
    },
  };
  return driver;
}

/** A real board: the module and the agent go to RAM with espruino-tools (not saved); reset() ends it. */
export function serialDriver(board: string, port: string | undefined, baud: number): Driver {
  const cli = path.join(path.dirname(require.resolve('espruino/package.json')), 'bin', 'espruino-cli.js');
  const common = ['--no-ble', '-p', port ?? '', '-b', String(baud)];
  return {
    mode: 'serial', board,
    unavailable: () => (port ? (fs.existsSync(port) || /^(COM\d+|tcp:)/.test(port) ? null : `serial port ${port} does not exist`) : 'serial mode needs --port <device> (see docs/boards.md)'),
    async start(cfg) {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hil-serial-'));
      const app = path.join(tmp, 'hil-agent.js');
      fs.writeFileSync(app, `var HIL = ${JSON.stringify(cfg)};\n${agentSource()}`);
      const lines: string[] = [];
      const p = spawn(process.execPath, [cli, ...common, '--config', `MODULE_URL=${path.join(DIST, board)}`, '--config', 'MODULE_EXTENSIONS=.js',
        '--config', 'MODULE_MINIFICATION_LEVEL=', '--config', 'SAVE_ON_SEND=0', app], { stdio: ['pipe', 'pipe', 'pipe'] });
      const take = (d: Buffer) => lines.push(...d.toString().split('\n').filter((l) => l.trim()));
      p.stdout.on('data', take);
      p.stderr.on('data', take);
      return {
        failures: () => lines.filter((l) => /Uncaught|MEMORY/.test(l)),
        async stop() {
          p.kill();
          spawnSync(process.execPath, [cli, ...common, '-e', 'reset()'], { timeout: 20000 });
          fs.rmSync(tmp, { recursive: true, force: true });
        },
      };
    },
  };
}
