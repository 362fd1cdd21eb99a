// Shapes shared by the bridge modules: validated config, queued messages, status.
import type { QoS } from '../store/types';

/** Which way a mapping carries messages: out = hub -> upstream, in = upstream -> hub. */
export type Direction = 'out' | 'in' | 'both';

/**
 * One topic mapping. `filter` is a filter on the hub's topics and starts with
 * `localPrefix`; that prefix is swapped for `remotePrefix` going up and back
 * coming down. So {filter: 'sensors/#', localPrefix: 'sensors/', remotePrefix:
 * 'site1/sensors/'} sends sensors/t1 up as site1/sensors/t1, and subscribes to
 * site1/sensors/# upstream (for in/both). Mosquitto's `topic sensors/# both 1 "" site1/`
 * is {filter: 'sensors/#', localPrefix: '', remotePrefix: 'site1/'}.
 */
export interface TopicMapping {
  direction: Direction;
  filter: string;
  localPrefix: string;
  remotePrefix: string;
  /** Highest QoS on the bridge link: a message goes up at min(its QoS, this); the upstream subscription asks for this. */
  qos: QoS;
}

export interface BridgeTls {
  /** PEM file with the CA(s) that sign the upstream's certificate; default: Node's public CA list. */
  caFile?: string;
  /** Client certificate and key (PEM) for mutual TLS; given together. */
  certFile?: string;
  keyFile?: string;
  /** Name checked against the upstream's certificate (and sent as SNI) when it is not the URL's host. */
  servername?: string;
  /** false accepts any certificate the upstream shows (testing only). Default true. */
  verifyServer: boolean;
}

export interface BridgeConfig {
  /** 1-64 of [A-Za-z0-9._-]; unique in the hub. */
  name: string;
  /** mqtt://, mqtts://, ws:// or wss:// with host and optional port (and path for WebSocket). */
  url: string;
  /** MQTT client id at the upstream: keep it stable for a persistent session (Scaleway: the device id). */
  clientId: string;
  username?: string;
  password?: string;
  /** For mqtts:// and wss:// only. */
  tls?: BridgeTls;
  /** Seconds; 0 turns keepalive (and dead-link detection) off. */
  keepalive: number;
  /** false: a persistent session at the upstream (commands sent while the hub is away wait there). */
  cleanSession: boolean;
  mappings: TopicMapping[];
  /** QoS 1/2 messages sent upstream and not yet acknowledged, at most. */
  maxInflight: number;
  /** The durable outbound queue's bounds; past them new messages are dropped (bridge_queue_overflow). */
  queue: { maxBytes: number; maxMessages: number };
  /** Reconnect delay: initialMs doubled per failed attempt, capped at maxMs, with jitter. */
  reconnect: { initialMs: number; maxMs: number };
  /** TCP + TLS/WebSocket handshake + CONNACK must take less than this. */
  connectTimeoutMs: number;
  /** A PINGREQ unanswered for this long drops the link. */
  pingTimeoutMs: number;
}

/** A message in a bridge's durable queue, already mapped to its upstream topic. */
export interface QueuedMessage {
  seq: number;
  /** The topic it is published to upstream. */
  topic: string;
  payload: Buffer;
  qos: 1 | 2;
  retain: boolean;
  /**
   * queued: not sent, or sent on a link that is gone (QoS 1 keeps no state on disk);
   * sent / released: QoS 2 past PUBLISH / past PUBREC, with the packet id, kept on disk
   * so a restarted hub finishes the exchange with the same id.
   */
  state: 'queued' | 'sent' | 'released';
  packetId?: number;
}

export type BridgeState = 'connecting' | 'connected' | 'waiting' | 'stopped';

export interface BridgeStats {
  /** QoS 1/2 messages taken into the durable queue. */
  queuedTotal: number;
  /** PUBLISH packets sent upstream the first time (QoS 0 included). */
  sent: number;
  /** PUBLISH packets sent again after a reconnect (DUP). */
  resent: number;
  /** QoS 1/2 messages the upstream acknowledged (PUBACK, or PUBREC for QoS 2). */
  acknowledged: number;
  /** QoS 0 messages not sent: the link was down or its socket backlogged (best effort). */
  droppedQos0: number;
  /** QoS 1/2 messages not queued because the queue was full. */
  droppedOverflow: number;
  /** Messages from upstream published on the hub. */
  received: number;
  /** Copies of this bridge's own messages the upstream sent back (both / overlapping mappings), dropped. */
  echoesDropped: number;
  /** Successful connections since the bridge started. */
  connects: number;
  /** Connection attempts that failed, or links that went down, since the bridge started. */
  failures: number;
  lastError?: string;
  lastErrorAt?: string;
}

export interface BridgeStatus {
  name: string;
  url: string;
  clientId: string;
  state: BridgeState;
  /** ISO time of the CONNACK of the current link. */
  connectedSince?: string;
  /** When the next attempt is due (state waiting). */
  nextAttemptAt?: string;
  /** Messages in the durable queue (not yet acknowledged by the upstream), in flight included. */
  queued: number;
  /** What they take on disk (the figure queue.maxBytes bounds). */
  queuedBytes: number;
  inflight: number;
  /** Smoothed round trip of PUBLISH -> PUBACK/PUBREC and PINGREQ -> PINGRESP, ms; absent before the first sample. */
  rttMs?: number;
  stats: BridgeStats;
  /** The config with password as '***'. */
  config: BridgeConfig;
}
