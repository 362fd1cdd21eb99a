// Many simulated boards in one process (a fleet), each with its own realm, timers,
// sockets, flash and faults, driven together against one broker.
import * as path from 'path';
import { Board, createBoard } from './index';

export interface FleetOptions {
  /** Profile for every board, or a list cycled over the boards (['esp32', 'esp8266'] alternates). */
  board: string | string[];
  count: number;
  /** Every line any board prints, with the board's index. */
  log?: (index: number, line: string) => void;
  /** Board i keeps its Storage in <storageRoot>/<i>, so a fleet created again finds it. */
  storageRoot?: string;
  /** Modules added to every board (name -> source), like Modules.addCached. */
  modules?: Record<string, string>;
}

export interface FleetMemory {
  /** Estimated vars over all boards, and the largest and mean per board. */
  usage: number;
  max: number;
  mean: number;
}

export interface Fleet {
  readonly boards: Board[];
  addModule(name: string, source: string): void;
  /** Runs code on every board; a function gets the board's index. Returns each board's result. */
  eval(code: string | ((index: number) => string)): any[];
  /** Uncaught lines of every board, with its index. */
  errors(): { board: number; line: string }[];
  memory(): FleetMemory;
  openSockets(): number;
  destroy(): void;
}

export function createFleet(o: FleetOptions): Fleet {
  if (!Number.isInteger(o.count) || o.count < 1) throw new Error(`createFleet: "count" must be a whole number >= 1, got ${o.count}`);
  const profiles = Array.isArray(o.board) ? o.board : [o.board];
  if (!profiles.length) throw new Error('createFleet: "board" must name at least one profile');
  const boards: Board[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      boards.push(createBoard({
        board: profiles[i % profiles.length],
        log: o.log ? (line) => o.log!(i, line) : undefined,
        storageDir: o.storageRoot ? path.join(o.storageRoot, String(i)) : undefined,
      }));
    }
  } catch (e) {
    for (const b of boards) b.destroy();
    throw e;
  }
  const fleet: Fleet = {
    boards,
    addModule(name, source) { for (const b of boards) b.addModule(name, source); },
    eval(code) { return boards.map((b, i) => b.eval(typeof code === 'function' ? code(i) : code)); },
    errors() {
      const out: { board: number; line: string }[] = [];
      boards.forEach((b, i) => { for (const line of b.errors) out.push({ board: i, line }); });
      return out;
    },
    memory() {
      const per = boards.map((b) => b.memory().usage);
      const usage = per.reduce((a, b) => a + b, 0);
      return { usage, max: Math.max(...per), mean: Math.round(usage / per.length) };
    },
    openSockets() { return boards.reduce((n, b) => n + b.openSockets(), 0); },
    destroy() { for (const b of boards) b.destroy(); },
  };
  for (const [name, src] of Object.entries(o.modules ?? {})) fleet.addModule(name, src);
  return fleet;
}
