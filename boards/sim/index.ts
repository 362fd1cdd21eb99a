// A simulated Espruino board: runs a minified bundle from dist/ unmodified in a
// Node vm context that has what the board has and nothing more
// (../../../shared/reference/espruino-facts.md, "works" column), with real
// sockets shaped like Espruino's and faults on demand.
//
//   const board = createBoard({ board: 'esp32' });
//   board.addModule('mqtt-client', fs.readFileSync('dist/esp32/mqtt-client.js', 'utf8'));
//   board.eval('var mqtt = require("mqtt-client"); ...');
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import { BoardProfile, loadBoard } from '../profiles';
import { boardStringToBytes, bytesToBoardString, sourceForBoard } from './bytes';
import { FaultControls, FaultState, noFaults } from './faults';
import { SimFlash } from './flash';
import { VarCounter, emptyUsage, reachable } from './memory';
import { SimNet, SocketEventType } from './net';
import { seededTemperature } from './sensors';

export { FaultControls } from './faults';

export interface BoardOptions {
  /** Profile name: a boards/*.json file. */
  board: string;
  /** Every console.log line and every 'Uncaught ...' line, as the board would print them. */
  log?: (line: string) => void;
  /** Keep Storage in this directory, so a board created again on it finds its files (a reboot). */
  storageDir?: string;
  /** Flash bytes available to Storage; defaults to the profile's storageBytes. */
  storageBytes?: number;
  /** E.getTemperature(); defaults to seededTemperature(seed) (sensors.ts). */
  temperature?: () => number;
  /**
   * Vars the board holds beyond what the simulator's walk sees, added to
   * process.memory().usage: models a board whose code and app already take that much
   * (e.g. what the real interpreter reports for the client and the app run from flash),
   * so that code checking free memory meets the budget it would meet there.
   */
  heldVars?: number;
  /** Makes this board's readings its own (and repeatable): e.g. its device id. Default: the board's name and a counter. */
  seed?: string;
}

export interface MemoryInfo { usage: number; total: number; free: number }

export interface Board {
  readonly name: string;
  readonly profile: BoardProfile;
  /** The board's global object. */
  readonly context: Record<string, any>;
  /** 'Uncaught ...' lines: exceptions thrown inside callbacks (timers, socket events). */
  readonly errors: string[];
  /** console.log lines. */
  readonly output: string[];
  readonly faults: FaultControls;
  readonly flash: SimFlash | null;
  /** Like Modules.addCached(name, src): require(name) in the board evaluates it once. */
  addModule(name: string, source: string): void;
  /** Runs code in the board's global scope. A throw comes back as a Node Error whose message is the board's text. */
  eval(code: string): any;
  /** Espruino-like process.memory() estimate (see memory.ts for how it is estimated). */
  memory(): MemoryInfo;
  /** Sockets not yet closed. */
  openSockets(): number;
  readonly destroyed: boolean;
  /** Resolves when the board is destroyed, or quit() ran (Linux profile). */
  readonly stopped: Promise<void>;
  /** Closes sockets (no events reach the board) and clears timers. */
  destroy(): void;
}

const RUNTIME_FILE = path.join(__dirname, 'runtime', 'board-globals.js');
let runtimeSource: string | null = null;

interface Runtime {
  fireTimer(id: number): void;
  runDeferred(): void;
  socketEvent(id: number, type: SocketEventType, a?: unknown, b?: unknown): void;
  errorText(e: unknown): string;
  roots(): object[];
}

let boardsMade = 0;

export function createBoard(options: BoardOptions): Board {
  const profile = loadBoard(options.board);
  const unicode = !!profile.unicode;
  const errors: string[] = [];
  const output: string[] = [];
  const print = (line: string) => { if (options.log) options.log(line); };
  const faults: FaultState = noFaults();
  const timers = new Map<number, NodeJS.Timeout>();
  const flash = profile.storage
    ? new SimFlash(options.storageBytes ?? profile.storageBytes, options.storageDir)
    : null;
  const temperature = options.temperature ?? seededTemperature(options.seed ?? `${profile.name}-${++boardsMade}`);
  let destroyed = false;
  let deferPending: NodeJS.Immediate | null = null;
  let markStopped!: () => void;
  const stopped = new Promise<void>((r) => { markStopped = r; });

  const simNet = new SimNet({
    chunkSize: profile.chunkSize,
    unicode,
    refuseThrows: profile.name === 'linux',
    faults,
    deliver: (id, type, a, b) => {
      if (destroyed) return;
      if (type === 'close') simNet.forget(id);
      rt.socketEvent(id, type, a, b);
    },
  });

  const context = vm.createContext({}, { name: `espruino-${profile.name}` });
  // The contextified sandbox only mirrors what scripts define; the realm's real
  // global (with its intrinsics) is what the board sees and what memory() walks.
  const global = vm.runInContext('globalThis', context) as Record<string, any>;

  // The bridge the in-board runtime calls. Only primitives cross it (plus a compiled
  // module function, which is made in the board's realm).
  const host = {
    log: (line: string) => { output.push(line); print(line); },
    uncaught: (line: string) => { errors.push(line); print(line); },
    now: () => Date.now(),
    quit: () => board.destroy(),
    defer: () => {
      if (deferPending || destroyed) return;
      deferPending = setImmediate(() => {
        deferPending = null;
        if (!destroyed) rt.runDeferred();
      });
    },
    temperature: () => temperature(),
    timerStart: (id: number, ms: number, repeat: boolean) => {
      if (destroyed) return;
      const fire = () => {
        if (!repeat) timers.delete(id);
        if (!destroyed) rt.fireTimer(id);
      };
      timers.set(id, repeat ? setInterval(fire, ms) : setTimeout(fire, ms));
    },
    timerStop: (id: number) => {
      const t = timers.get(id);
      if (t) { clearTimeout(t); clearInterval(t); timers.delete(id); }
    },
    netConnect: (id: number, h: string, port: number, secure: boolean, tlsJson: string) => {
      if (destroyed) return 'The board is destroyed';
      return simNet.connect(id, h, port, secure, tlsJson ? JSON.parse(tlsJson) : {});
    },
    netWrite: (id: number, s: string) => simNet.write(id, s),
    netEnd: (id: number) => simNet.end(id),
    storageRead: (name: string) => {
      const b = flash?.read(name);
      return b ? bytesToBoardString(b) : undefined;
    },
    storageWrite: (name: string, data: string, offset: number, size: number) =>
      flash ? flash.write(name, boardStringToBytes(data, unicode), offset, size) : 'no flash',
    storageErase: (name: string) => flash?.erase(name),
    storageEraseAll: () => flash?.eraseAll(),
    storageList: () => JSON.stringify(flash ? flash.list() : []),
    storageFree: () => (flash ? flash.free() : 0),
    storageStats: () => JSON.stringify(flash ? [flash.used(), flash.free(), flash.list().length, flash.capacity] : [0, 0, 0, 0]),
    compile: (name: string, src: string): unknown => {
      try {
        // Same line as the source, so line numbers in errors match the bundle.
        const script = new vm.Script('(function (exports, module) {' + sourceForBoard(src, unicode) + '\n})',
          { filename: name + '.js' });
        return script.runInContext(context);
      } catch (e) {
        return `${name}: ${(e as Error).message}`;
      }
    },
    memory: () => {
      const m = memory();
      return [m.usage, m.total, m.free];
    },
    sizeOf: (x: unknown) => counter.sizeOf(x),
  };

  runtimeSource ??= fs.readFileSync(RUNTIME_FILE, 'utf8');
  const makeRuntime = new vm.Script(runtimeSource, { filename: 'board-globals.js' }).runInContext(context);
  const rt = makeRuntime(host, {
    tls: !!profile.tls,
    wifi: !!profile.wifi,
    storage: !!profile.storage,
    varBytes: profile.varBytes,
    envBoard: profile.name.toUpperCase(),
    quit: profile.name === 'linux',
  }) as Runtime;

  // What exists right after boot is the interpreter itself, not the app's usage.
  const builtins = reachable(global);
  const bootNames = new Set(Object.getOwnPropertyNames(global));
  const counter = new VarCounter(profile.varBytes, builtins);
  const base = emptyUsage(profile.name);

  function memory(): MemoryInfo {
    const usage = base + (options.heldVars ?? 0) + counter.count(global, bootNames, rt.roots());
    return { usage, total: profile.vars, free: profile.vars - usage };
  }

  const controls: FaultControls = {
    refuseConnects: (on) => { faults.refuse = !!on; },
    dropLinks: () => simNet.dropAll(),
    setChunkSize: (n) => {
      if (!Number.isInteger(n) || n < 0) throw new Error(`setChunkSize: expected a whole number of bytes >= 0 (0 = the profile's ${profile.chunkSize}), got ${n}`);
      faults.chunkSize = n;
    },
    setDelay: (ms) => {
      if (!(ms >= 0)) throw new Error(`setDelay: expected milliseconds >= 0, got ${ms}`);
      faults.delayMs = ms;
    },
    glue: (on) => { faults.glue = !!on; },
    blackhole: (on) => { faults.blackhole = !!on; },
    reset: () => { Object.assign(faults, noFaults()); },
  };

  const board: Board = {
    name: profile.name,
    profile,
    context: global,
    errors,
    output,
    faults: controls,
    flash,
    addModule(name, source) {
      if (typeof name !== 'string' || !name) throw new Error('addModule: expected a module name');
      if (typeof source !== 'string') throw new Error(`addModule("${name}"): expected the module's source text`);
      global.Modules.addCached(name, source);
    },
    eval(code) {
      if (destroyed) throw new Error(`board ${profile.name} is destroyed`);
      try {
        return vm.runInContext(sourceForBoard(code, unicode), context, { filename: 'board-eval.js' });
      } catch (e) {
        throw new Error(rt.errorText(e), { cause: e });
      }
    },
    memory,
    openSockets: () => simNet.openCount(),
    get destroyed() { return destroyed; },
    stopped,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      markStopped();
      for (const t of timers.values()) { clearTimeout(t); clearInterval(t); }
      timers.clear();
      if (deferPending) clearImmediate(deferPending);
      simNet.destroy();
    },
  };
  return board;
}
