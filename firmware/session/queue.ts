// The send queue. The client keeps one ordered array of entries: its first
// `written` entries are on the wire on this link (the in-flight window), the rest
// the outbox (offline, or the window is full). An entry keeps its encoded packet,
// so a resend is a plain write, and a QoS 2 entry simply swaps its PUBLISH for the
// PUBREL once PUBREC arrives. Packet ids and inbound QoS 2 ids are kept by client.ts.

/** What the application passes to be told the outcome: (error or undefined, result). */
export type Callback = ((err: any, result?: any) => void) | undefined | 0;

/** A subscription: filter, QoS, and the handler for its messages (0: none). */
export type Sub = [filter: string, qos: number, handler: any];
export const FILTER = 0;
export const QOS = 1;
export const HANDLER = 2;

/** A queued packet: packet id (0 for QoS 0), encoded packet, callback, and for (UN)SUBSCRIBE its subscriptions. */
export type Entry = [id: number, packet: string, callback: Callback, subs?: Sub[]];
export const ID = 0;
export const PACKET = 1;
export const CALLBACK = 2;
export const SUBS = 3;
