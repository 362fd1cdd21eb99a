// Outbound flows and inbound QoS 2 state. The client keeps one ordered queue of
// entries [packetId (0 for QoS 0), encodedPacket, callback, extra]; its first
// entries are the in-flight window, the rest the outbox (see outbox.ts).
// Keeping the encoded packet makes a resend a plain write, and a QoS 2 entry
// simply swaps its PUBLISH for the PUBREL once PUBREC arrives.

/** Next packet id after `last`: 1..65535, never 0, never one still queued [MQTT-2.3.1-1] [MQTT-2.3.1-2]. */
export const nextId = (q: any[][], last: number) => {
  do last = last % 65535 + 1;
  while (q.some((e) => e[0] == last));
  return last;
};

/**
 * Packet type that acknowledges a queued packet: PUBLISH (first byte below 0x40)
 * QoS 1 -> PUBACK, QoS 2 -> PUBREC; PUBREL -> PUBCOMP, SUBSCRIBE -> SUBACK, UNSUBSCRIBE -> UNSUBACK.
 */
export const ackType = (p: string) => {
  const h = p.charCodeAt(0);
  return h < 64 ? 3 + (h >> 1 & 3) : (h >> 4) + 1;
};

/**
 * Inbound QoS 2: remember `id` until PUBREL [MQTT-4.3.3-2]. Returns false if it
 * was already remembered (a redelivery: acknowledge again, do not deliver).
 * Bounded, so a peer that never sends PUBREL cannot exhaust the board's memory:
 * past 64 unreleased ids (brokers keep far fewer in flight) the oldest is forgotten.
 */
export const remember = (ids: number[], id: number) => {
  if (ids.indexOf(id) >= 0) return false;
  if (ids.push(id) > 64) ids.shift();
  return true;
};

/** PUBREL arrived: the ids without `id`. */
export const release = (ids: number[], id: number) => ids.filter((x) => x != id);
