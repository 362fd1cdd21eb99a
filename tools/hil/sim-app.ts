// A simulated board (boards/sim) running the shipped telemetry bundle from dist/,
// unmodified: the mqtt-client module is cached, CONFIG set, then the app runs.
import * as fs from 'fs';
import { Board, createBoard } from '../../boards/sim';
import { bundleFile } from './build';

export interface TelemetryConfig {
  id: string;
  host: string;
  port: number;
  interval?: number;
  buffer?: number;
  keepalive?: number;
  username?: string;
  password?: string;
}

export interface TelemetryBoardOptions {
  board: string;
  config: TelemetryConfig;
  /** Flash kept here, so a board started again on it finds its Storage (a reboot). */
  storageDir?: string;
  log?: (line: string) => void;
}

const sources = new Map<string, string>();
function source(board: string, name: 'mqtt-client' | 'telemetry'): string {
  const f = bundleFile(board, name);
  let s = sources.get(f);
  if (s === undefined) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: run npm run build`);
    sources.set(f, s = fs.readFileSync(f, 'utf8'));
  }
  return s;
}

export function startTelemetryBoard(o: TelemetryBoardOptions): Board {
  // Seeded by the device id: each board reads its own temperatures, the same ones on every run.
  const board = createBoard({ board: o.board, storageDir: o.storageDir, log: o.log, seed: o.config.id });
  try {
    board.addModule('mqtt-client', source(o.board, 'mqtt-client'));
    board.eval(`var CONFIG = ${JSON.stringify(o.config)};`);
    board.eval(source(o.board, 'telemetry'));
  } catch (err) {
    board.destroy();
    throw err;
  }
  return board;
}
