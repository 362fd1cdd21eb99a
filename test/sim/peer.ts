// A small real TCP server on 127.0.0.1 for simulator tests: records what each
// connection sends and lets the test script what it answers.
import * as net from 'net';
import { Board, BoardOptions, createBoard } from '../../boards/sim';

export interface Peer {
  port: number;
  conns: net.Socket[];
  /** Bytes received per connection, in order. */
  received: Buffer[][];
  close(): Promise<void>;
}

export function startPeer(onConn: (s: net.Socket, index: number) => void = (s) => s.pipe(s)): Promise<Peer> {
  const conns: net.Socket[] = [];
  const received: Buffer[][] = [];
  const server = net.createServer((s) => {
    const i = conns.length;
    conns.push(s);
    received.push([]);
    s.on('data', (b) => received[i].push(b));
    s.on('error', () => undefined);
    onConn(s, i);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        conns,
        received,
        close: () => new Promise<void>((r) => {
          for (const c of conns) c.destroy();
          server.close(() => r());
        }),
      });
    });
  });
}

/** Resolves once check() is truthy; rejects naming what was awaited after timeoutMs. */
export async function until<T>(what: string, check: () => T, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Boards and peers that are torn down after each test of the calling describe().
 * Call it inside describe().
 */
export function perTest(): { board(name: string, options?: Partial<BoardOptions>): Board; peer(onConn?: Parameters<typeof startPeer>[0]): Promise<Peer>; defer(fn: () => unknown): void } {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => { while (cleanup.length) await cleanup.pop()!(); });
  return {
    board(name, options) {
      const b = createBoard({ ...options, board: name });
      cleanup.push(() => b.destroy());
      return b;
    },
    async peer(onConn) {
      const p = await startPeer(onConn);
      cleanup.push(() => p.close());
      return p;
    },
    defer(fn) { cleanup.push(fn); },
  };
}
