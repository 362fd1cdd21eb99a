// Fuzzing the broker's connection handling: each case opens a connection,
// sends a valid CONNECT, then one mutated packet, then ends its side. The
// broker must close every such connection, never fail inside a handler, raise
// a hub event whenever it refuses a packet, and keep serving everyone else.
// Transport 'tcp' uses real sockets (CI); 'stream' hands the broker an
// in-process byte stream the way its WebSocket listener does (soak volume).
import * as net from 'net';
import { Duplex } from 'stream';
import { Broker } from '../../../host-broker/broker';
import type { ClientInfo, HubEvent } from '../../../host-broker/hooks';
import { connectPacket, fuzzCase, rng, caseSeed, type Mutation } from './mutate';

export const BROKER_FUZZ_MAX = 4096;
const REFUSAL_KINDS = new Set(['malformed_packet', 'protocol_violation', 'payload_too_large']);
/** Reasons for a close that the client itself caused without breaking a rule. */
const PEER_CLOSED = /^(DISCONNECT|connection lost|connection closed by the client without DISCONNECT)$/;

export interface BrokerCaseFailure { seed: number; index: number; mutation: Mutation; hex: string; problem: string }

export interface FuzzBroker {
  broker: Broker;
  port: number;
  events: HubEvent[];
  /** clientId -> why the broker closed it. */
  reasons: Map<string, string>;
  uncaught: string[];
  close(): Promise<void>;
}

export async function fuzzBroker(): Promise<FuzzBroker> {
  const reasons = new Map<string, string>();
  const broker = new Broker({
    limits: { maxPacketSize: BROKER_FUZZ_MAX, maxConnections: 10_000 },
    hooks: [{ clientDisconnected: (c: ClientInfo, reason: string) => { reasons.set(c.clientId, reason); } }],
  });
  const events: HubEvent[] = [];
  broker.on('hubEvent', (e: HubEvent) => events.push(e));
  const uncaught: string[] = [];
  const onUncaught = (e: unknown) => { uncaught.push(String((e as Error)?.stack ?? e)); };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const { tcp } = await broker.listen({ tcp: { port: 0 } });
  return {
    broker, port: tcp!, events, reasons, uncaught,
    async close() {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
      await broker.close();
    },
  };
}

/** The broker's side of an in-process connection; what it writes is discarded. */
class StreamPeer extends Duplex {
  _read(): void {}
  _write(_c: Buffer, _e: BufferEncoding, cb: () => void): void { cb(); }
}

function overStream(fb: FuzzBroker, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = new StreamPeer();
    s.on('close', () => resolve());
    fb.broker.accept(s, { remoteAddress: 'stream', listener: 'ws' });
    s.push(bytes);
    s.push(null);
  });
}

function overTcp(fb: FuzzBroker, bytes: Buffer, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(fb.port, '127.0.0.1');
    const t = setTimeout(() => { s.destroy(); resolve(false); }, timeoutMs);
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    s.on('close', () => { clearTimeout(t); resolve(true); });
    s.on('connect', () => { s.end(bytes); });
  });
}

/** Waits until the broker has no connection left for this client id (the close is processed). */
async function settled(fb: FuzzBroker, clientId: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (fb.reasons.has(clientId)) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function brokerCase(fb: FuzzBroker, seed: number, i: number, transport: 'tcp' | 'stream'): Promise<BrokerCaseFailure | null> {
  const c = fuzzCase(seed, i, 'toServer', BROKER_FUZZ_MAX);
  const clientId = `fz-${seed}-${i}`;
  const bytes = Buffer.concat([connectPacket(rng(caseSeed(seed, i) ^ 0x1234567), clientId), c.bytes]);
  const fail = (problem: string): BrokerCaseFailure => ({ seed, index: i, mutation: c.mutation, hex: c.bytes.subarray(0, 64).toString('hex'), problem });
  const eventsBefore = fb.events.length;
  if (transport === 'tcp') {
    if (!(await overTcp(fb, bytes, 10_000))) return fail('the broker did not close the connection within 10 s of the client ending it');
  } else {
    await overStream(fb, bytes);
  }
  if (!(await settled(fb, clientId, 5000))) return fail('the connection closed but the broker never reported the client disconnected');
  const reason = fb.reasons.get(clientId)!;
  fb.reasons.delete(clientId);
  if (fb.uncaught.length) return fail(`uncaught: ${fb.uncaught[0]}`);
  if (reason.startsWith('internal error')) return fail(`a handler threw: ${reason}`);
  const mine = fb.events.slice(eventsBefore).filter((e) => e.objectId === clientId);
  if (!PEER_CLOSED.test(reason) && mine.length === 0) return fail(`closed ("${reason}") without a hub event`);
  if (c.mustRefuse) {
    if (PEER_CLOSED.test(reason)) return fail(`a ${c.mutation} packet was not refused (closed as "${reason}")`);
    if (!mine.some((e) => REFUSAL_KINDS.has(e.kind))) return fail(`refused without a malformed_packet/protocol_violation/payload_too_large event: ${JSON.stringify(mine)}`);
  }
  return null;
}

export interface FuzzRun { cases: number; failures: BrokerCaseFailure[]; refused: number }

/** Runs cases [from, from + count) with `concurrency` connections at a time. */
export async function runBrokerFuzz(fb: FuzzBroker, seed: number, from: number, count: number, transport: 'tcp' | 'stream', concurrency: number): Promise<FuzzRun> {
  const failures: BrokerCaseFailure[] = [];
  let next = from;
  let done = 0;
  const eventsBefore = fb.events.length;
  const worker = async () => {
    while (next < from + count) {
      const i = next++;
      const f = await brokerCase(fb, seed, i, transport);
      if (f && failures.length < 20) failures.push(f);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const refused = fb.events.slice(eventsBefore).filter((e) => REFUSAL_KINDS.has(e.kind)).length;
  fb.events.length = 0; // bounded over a long soak
  return { cases: done, failures, refused };
}
