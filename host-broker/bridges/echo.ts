// MQTT 3.1.1 has no "no local": an upstream sends a bridge's own message back to
// it when one of the bridge's upstream subscriptions matches the topic it was
// sent on (a `both` mapping, or overlapping out and in mappings). The bridge
// remembers each message it sent on such a topic, and drops one matching copy
// (same topic and payload) that comes back within the window. Counting copies
// keeps the number of messages right even when another publisher upstream sends
// an identical one at the same moment. Never sending a message back up is a
// separate rule (the manager tags what came from upstream); this only stops the
// hub's own subscribers from seeing each of their messages twice.
import { createHash } from 'crypto';

/** How long a sent message waits for its copy (an upstream that does not echo, through ACLs, leaves entries behind). */
export const ECHO_WINDOW_MS = 60_000;
/** Entries kept at most; past it the oldest go (an echo then passes through: a duplicate, never a loss). */
const MAX_ENTRIES = 100_000;

export class EchoFilter {
  private readonly expected = new Map<string, { count: number; until: number }>();

  private key(topic: string, payload: Buffer): string {
    return `${topic}\u0000${payload.length}\u0000${createHash('sha1').update(payload).digest('base64')}`;
  }

  /** A message went up on a topic the upstream will send back to us. */
  expect(topic: string, payload: Buffer, now = Date.now()): void {
    const k = this.key(topic, payload);
    const e = this.expected.get(k);
    if (e) { e.count++; e.until = now + ECHO_WINDOW_MS; return; }
    if (this.expected.size >= MAX_ENTRIES) this.prune(now);
    this.expected.set(k, { count: 1, until: now + ECHO_WINDOW_MS });
  }

  /** True (and one copy consumed) if this upstream message is the echo of one we sent. */
  take(topic: string, payload: Buffer, now = Date.now()): boolean {
    if (this.expected.size === 0) return false;
    const k = this.key(topic, payload);
    const e = this.expected.get(k);
    if (!e) return false;
    if (e.until < now) { this.expected.delete(k); return false; }
    if (--e.count === 0) this.expected.delete(k);
    return true;
  }

  get size(): number { return this.expected.size; }

  private prune(now: number): void {
    for (const [k, e] of this.expected) if (e.until < now) this.expected.delete(k);
    // Still full: drop the oldest (a Map iterates in insertion order).
    for (const k of this.expected.keys()) {
      if (this.expected.size < MAX_ENTRIES) break;
      this.expected.delete(k);
    }
  }
}
