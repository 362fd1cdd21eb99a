// Fault injection rules: drop or delay the next N packets of a type, in or
// out, for one client or any; and refusing new connections for a while.
import type { Packet } from 'mqtt-packet';
import type { ClientInfo, PacketVerdict } from '../hooks';

export const PACKET_TYPES = ['connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback',
  'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect'] as const;
export type PacketType = typeof PACKET_TYPES[number];

export interface FaultSpec {
  /** Only this MQTT client id; omitted = any client. */
  clientId?: string;
  /** 'in' = from the client to the broker, 'out' = from the broker to the client. */
  direction: 'in' | 'out';
  /** The packet type, or '*' for any. */
  cmd: PacketType | '*';
  action: 'drop' | 'delay' | 'disconnect';
  /** How many matching packets the rule applies to; default 1. */
  count?: number;
  /** For 'delay': how long, in ms. */
  ms?: number;
}

export interface FaultRule extends Required<Pick<FaultSpec, 'direction' | 'cmd' | 'action' | 'count'>> {
  id: number;
  clientId?: string;
  ms?: number;
  /** Packets still to affect. */
  remaining: number;
  createdAt: number;
}

const MAX_DELAY_MS = 10 * 60 * 1000;

/** Validate a fault spec from an API caller; throws naming the field. */
export function parseFaultSpec(v: unknown): FaultSpec {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('fault: expected an object {direction, cmd, action, count?, ms?, clientId?}');
  const o = v as Record<string, unknown>;
  const allowed = ['clientId', 'direction', 'cmd', 'action', 'count', 'ms'];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new Error(`fault.${k}: unknown field; expected one of ${allowed.join(', ')}`);
  if (o.clientId !== undefined && (typeof o.clientId !== 'string' || o.clientId === '')) throw new Error('fault.clientId: expected a non-empty string (omit it for any client)');
  if (o.direction !== 'in' && o.direction !== 'out') throw new Error(`fault.direction: expected "in" or "out", got ${JSON.stringify(o.direction)}`);
  if (o.cmd !== '*' && !PACKET_TYPES.includes(o.cmd as PacketType)) {
    throw new Error(`fault.cmd: expected "*" or one of ${PACKET_TYPES.join(', ')}, got ${JSON.stringify(o.cmd)}`);
  }
  if (o.action !== 'drop' && o.action !== 'delay' && o.action !== 'disconnect') {
    throw new Error(`fault.action: expected "drop", "delay" or "disconnect", got ${JSON.stringify(o.action)}`);
  }
  if (o.count !== undefined && (!Number.isInteger(o.count) || (o.count as number) < 1 || (o.count as number) > 1e6)) {
    throw new Error(`fault.count: expected an integer 1..1000000, got ${JSON.stringify(o.count)}`);
  }
  if (o.action === 'delay') {
    if (!Number.isInteger(o.ms) || (o.ms as number) < 0 || (o.ms as number) > MAX_DELAY_MS) {
      throw new Error(`fault.ms: a delay needs an integer 0..${MAX_DELAY_MS} ms, got ${JSON.stringify(o.ms)}`);
    }
  } else if (o.ms !== undefined) {
    throw new Error('fault.ms: only a "delay" takes ms');
  }
  return o as unknown as FaultSpec;
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private nextId = 1;
  private refuseUntil = 0;

  add(spec: FaultSpec): FaultRule {
    const s = parseFaultSpec(spec);
    const count = s.count ?? 1;
    const rule: FaultRule = { id: this.nextId++, direction: s.direction, cmd: s.cmd, action: s.action, count, remaining: count, createdAt: Date.now() };
    if (s.clientId !== undefined) rule.clientId = s.clientId;
    if (s.ms !== undefined) rule.ms = s.ms;
    this.rules.push(rule);
    return { ...rule };
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  remove(id: number): boolean {
    const n = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== n;
  }

  clear(): void {
    this.rules = [];
  }

  /** The first live rule that matches uses up one count and gives the core its verdict. */
  verdict(clientKey: string, dir: 'in' | 'out', packet: Packet): PacketVerdict {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (r.direction !== dir) continue;
      if (r.cmd !== '*' && r.cmd !== packet.cmd) continue;
      if (r.clientId !== undefined && r.clientId !== clientKey) continue;
      r.remaining--;
      if (r.remaining <= 0) this.rules.splice(i, 1);
      if (r.action === 'delay') return { action: 'delay', ms: r.ms ?? 0 };
      return { action: r.action };
    }
    return undefined;
  }

  /** Refuse every new socket for `ms` from now (0 ends it). */
  refuseConnections(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0 || ms > 24 * 3600 * 1000) throw new Error(`ms: expected 0..86400000, got ${ms}`);
    this.refuseUntil = ms === 0 ? 0 : Date.now() + ms;
  }

  /** Milliseconds left of a refusal, 0 when connections are accepted. */
  refusingFor(): number {
    return Math.max(0, this.refuseUntil - Date.now());
  }

  acceptSocket(_info: { remoteAddress: string; listener: ClientInfo['listener'] }): boolean {
    return this.refusingFor() === 0;
  }
}
