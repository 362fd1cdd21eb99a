// Outbound flows (inbound QoS 2 ids are kept by client.ts itself). The client
// keeps one ordered queue of entries [packetId (0 for QoS 0), encodedPacket,
// callback, extra]; its first
// entries are the in-flight window, the rest the outbox (see outbox.ts).
// Keeping the encoded packet makes a resend a plain write, and a QoS 2 entry
// simply swaps its PUBLISH for the PUBREL once PUBREC arrives.

import { at } from '../codec/bytes';

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
export const ackType = (p: any): number => (p = at(p, 0)) < 64 ? 3 + (p >> 1 & 3) : (p >> 4) + 1;
