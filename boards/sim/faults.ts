// Link faults a test can switch on for one simulated board. They act on every
// socket of that board (net and tls), in both directions.

export interface FaultState {
  /** net.connect fails the way the board reports a refused connection. */
  refuse: boolean;
  /** Largest chunk delivered to 'data' and largest TCP write; 0 means the profile's chunkSize. */
  chunkSize: number;
  /** Extra latency, in ms, added to everything received and sent. */
  delayMs: number;
  /** Coalesce consecutive received chunks into one 'data' event, and consecutive writes into one TCP write. */
  glue: boolean;
  /** Silently drop everything in both directions while the socket stays open (a dead link). */
  blackhole: boolean;
}

export function noFaults(): FaultState {
  return { refuse: false, chunkSize: 0, delayMs: 0, glue: false, blackhole: false };
}

/** How long glued data waits for more to arrive before it is delivered or sent. */
export const GLUE_WINDOW_MS = 15;

export interface FaultControls {
  refuseConnects(on: boolean): void;
  /** Close every open socket abruptly (TCP reset); the board sees error, end, close(true). */
  dropLinks(): void;
  setChunkSize(n: number): void;
  setDelay(ms: number): void;
  glue(on: boolean): void;
  blackhole(on: boolean): void;
  /** Back to a clean link. */
  reset(): void;
}
