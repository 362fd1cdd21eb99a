// The persistence seam. The broker core keeps its working state in memory and
// writes every change through this interface; a Store only has to remember.
// Calls are synchronous on purpose: the broker acknowledges a QoS 1/2 message
// right after the call returns, so "returned" must mean "durable".

export type QoS = 0 | 1 | 2;

/** Where an outbound QoS 1/2 message is in its flow to one subscriber. */
export type OutboundState =
  | 'queued' // not sent yet (offline, or the in-flight window is full)
  | 'sent' // PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2)
  | 'released'; // QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP

export interface OutboundMessage {
  /** Order of arrival in this session's queue; unique per client. */
  seq: number;
  topic: string;
  payload: Buffer;
  qos: 1 | 2;
  retain: boolean;
  state: OutboundState;
  /** Set once the message has been given a packet id (state sent/released). */
  packetId?: number;
}

export interface StoredSubscription {
  filter: string;
  qos: QoS;
}

/** A persistent (clean session = 0) session as it was stored. */
export interface StoredSession {
  clientId: string;
  subscriptions: StoredSubscription[];
  /** Ordered by seq. */
  outbound: OutboundMessage[];
  /** QoS 2 packet ids received and PUBREC'd, whose PUBREL has not arrived yet. */
  inboundQos2: number[];
}

export interface RetainedMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
}

export interface Store {
  loadSessions(): StoredSession[];
  createSession(clientId: string): void;
  /** Removes the session with its subscriptions, outbound messages and QoS 2 ids. */
  deleteSession(clientId: string): void;

  putSubscription(clientId: string, sub: StoredSubscription): void;
  deleteSubscription(clientId: string, filter: string): void;

  putOutbound(clientId: string, msg: OutboundMessage): void;
  /** Changes state/packet id of a stored outbound message. */
  updateOutbound(clientId: string, seq: number, state: OutboundState, packetId: number | undefined): void;
  deleteOutbound(clientId: string, seq: number): void;

  addInboundQos2(clientId: string, packetId: number): void;
  deleteInboundQos2(clientId: string, packetId: number): void;

  loadRetained(): RetainedMessage[];
  putRetained(msg: RetainedMessage): void;
  deleteRetained(topic: string): void;

  /** A small key/value space for other parts of the hub (device registry, routes). Values are JSON-able. */
  kvGet(ns: string, key: string): unknown;
  kvPut(ns: string, key: string, value: unknown): void;
  kvDelete(ns: string, key: string): void;
  kvList(ns: string): { key: string; value: unknown }[];

  /** Runs fn so that all of its writes land together or not at all. Nested calls join the outer one. */
  transaction<T>(fn: () => T): T;
  close(): void;
}
