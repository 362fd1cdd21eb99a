// Runs the minified client bundle (dist/<board>/mqtt-client.js) on a simulated
// board and records every client event in the board's global `log`, so tests can
// wait for and inspect what the application would see.
import { createBoard, Board, BoardOptions } from '../../../boards/sim';
import { bundleSource } from './bundles';

export interface ClientBoard {
  board: Board;
  /** Events so far, as plain JSON: [name, ...args]; errors as their message text. */
  log(): any[][];
  /** Events with this name. */
  events(name: string): any[][];
  /** Runs code on the board (the client is the global `c`). */
  run(code: string): any;
  /** Waits until `pred(log)` holds; fails naming `what` after `ms`. */
  until(what: string, pred: (log: any[][]) => any, ms?: number): Promise<any>;
  /** Waits until there are `n` events named `name`; returns them. */
  waitEvents(name: string, n?: number, ms?: number): Promise<any[][]>;
  /** Waits until the board's timers due now have run: subscription handlers run from setTimeout(..., 0). */
  settled(): Promise<void>;
  destroy(): void;
}

/**
 * A board with the client loaded and created as global `c` from `options`
 * (JS source of an object literal, so it can use require("net") and functions).
 * Events are logged; connect() is not called.
 */
export function clientBoard(boardName: string, options: string, boardOptions: Partial<BoardOptions> = {}): ClientBoard {
  const board = createBoard({ ...boardOptions, board: boardName });
  board.addModule('mqtt-client', bundleSource(boardName));
  board.eval(`
    var log = [], settledMark = 0;
    function rec(name) { return function (a, b, c) { log.push([name, a, b, c]); }; }
    function errText(e) { return e && e.message !== undefined ? String(e.message) : String(e); }
    var c = require("mqtt-client").create(${options});
    ['connect', 'offline', 'close', 'reconnect'].forEach(function (n) { c.on(n, rec(n)); });
    c.on('error', function (e) { log.push(['error', errText(e)]); });
    c.on('message', function (t, p, i) { log.push(['message', t, p, { qos: i.qos, retain: i.retain, dup: i.dup }]); });
    // A callback that records its outcome under a name.
    function cb(name) { return function (err, x) { log.push([name, err ? errText(err) : null, x]); }; }
  `);
  const log = (): any[][] => JSON.parse(board.eval('JSON.stringify(log)')).map((e: any[]) => {
    while (e.length > 1 && e[e.length - 1] === null) e.pop();
    return e;
  });
  /** Polls `pred` until it holds; a board error ends the wait unless `boardErrorsEnd` is false. */
  const poll = async <T>(what: string, pred: () => T, ms: number, boardErrorsEnd: boolean): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const r = pred();
      if (r) return r;
      if (boardErrorsEnd && board.errors.length) throw new Error(`board error while waiting for ${what}: ${board.errors.join('\n')}`);
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; log: ${JSON.stringify(log()).slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const until = (what: string, pred: (l: any[][]) => any, ms = 10000) => poll(what, () => pred(log()), ms, true);
  const events = (name: string) => log().filter((e: any[]) => e[0] === name);
  let settles = 0;
  return {
    board,
    log,
    events,
    run: (code) => board.eval(code),
    until,
    waitEvents: (name, n = 1, ms) => until(`${n} "${name}" event(s)`, (l) => {
      const m = l.filter((e: any[]) => e[0] === name);
      return m.length >= n && m;
    }, ms),
    settled: async () => {
      const mark = ++settles;
      board.eval(`setTimeout(function () { settledMark = ${mark}; }, 0)`);
      // A handler's own Uncaught error is for the test to judge, not a reason to stop here.
      await poll(`the board's due timers (mark ${mark})`, () => board.eval('settledMark') === mark, 10000, false);
    },
    destroy: () => board.destroy(),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
