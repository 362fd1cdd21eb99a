// The seam between the protocol core and the policies that plug into it
// (security, limits, hub events, HIL fault injection, transcripts).
// The core calls these named hooks; each policy lives in its own module and
// can be read and tested on its own. Every hook is optional.
import type { Packet } from 'mqtt-packet';

/** What the core knows about one connected client, as hooks see it. */
export interface ClientInfo {
  /** Connection-unique id (a counter), stable for the life of one socket. */
  connId: number;
  clientId: string;
  /** The device id that authentication mapped this client to, if any. */
  deviceId?: string;
  username?: string;
  remoteAddress: string;
  /** Which listener accepted the socket. */
  listener: 'tcp' | 'tls' | 'ws';
  /** For TLS: whether the peer presented a certificate the hub's CA verified, and its subject CN / fingerprint. */
  tls?: { authorized: boolean; subjectCN?: string; fingerprint256?: string };
}

export interface ConnectRequest {
  client: ClientInfo;
  clientId: string;
  username?: string;
  password?: Buffer;
  will?: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean };
  keepalive: number;
  clean: boolean;
}

/**
 * Result of authentication: accept (optionally naming the device) or refuse with a CONNACK code.
 * A refusal names the device it was about (disabled, TLS required, wrong password) when one is
 * known, so the hub event is filed under that device rather than the client id.
 */
export type AuthResult =
  | { ok: true; deviceId?: string }
  | { ok: false; returnCode: 2 | 4 | 5; reason: string; event: HubEventKind; deviceId?: string };

/** What a packet hook may ask the core to do with a packet. */
export type PacketVerdict = undefined | { action: 'drop' } | { action: 'delay'; ms: number } | { action: 'disconnect' };

export type Severity = 'info' | 'warning' | 'error';

export type HubEventKind =
  | 'malformed_packet'
  | 'protocol_violation'
  | 'authentication_failure'
  | 'tls_required'
  | 'device_disabled'
  | 'unauthorized_topic'
  | 'payload_too_large'
  | 'offline_queue_overflow'
  | 'route_failure'
  | 'limit_exceeded'
  | 'connect_timeout'
  | 'store_failure'
  | 'bridge_connected'
  | 'bridge_down'
  | 'bridge_queue_overflow';

export interface HubEvent {
  kind: HubEventKind;
  severity: Severity;
  /** 'device' | 'client' | 'route' | 'bridge' | 'hub' */
  objectType: string;
  objectId: string;
  message: string;
  /** Summary of the offending packet, when there is one (never the full payload). */
  packet?: { cmd: string; topic?: string; messageId?: number; qos?: number; payloadBytes?: number };
}

export interface BrokerHooks {
  /** A new socket arrived; return false to close it at once (connection limits, refusing connects for a while). */
  acceptSocket?(info: { remoteAddress: string; listener: ClientInfo['listener'] }): boolean;
  /** CONNECT passed protocol validation; decide whether this client may in. */
  authenticate?(req: ConnectRequest): AuthResult | Promise<AuthResult>;
  /** May this client publish to this topic? Also asked for the Will at CONNECT (isWill true). */
  authorizePublish?(client: ClientInfo, topic: string, isWill: boolean): boolean;
  /** May this client subscribe to this filter? false makes SUBACK 0x80 for it. */
  authorizeSubscribe?(client: ClientInfo, filter: string): boolean;
  /**
   * May this client receive this message? Asked for every message routed to it,
   * retained ones included, just before it is sent (a granted filter may overlap
   * topics the client must not read); false drops it for this client, silently.
   */
  authorizeDelivery?(client: ClientInfo, topic: string): boolean;
  /** Every decoded packet from a client, before the core acts on it (transcripts, fault injection). */
  packetIn?(client: ClientInfo, packet: Packet): PacketVerdict;
  /** Every packet the core is about to send to a client. */
  packetOut?(client: ClientInfo, packet: Packet): PacketVerdict;
  /** Lifecycle notifications. */
  clientConnected?(client: ClientInfo, sessionPresent: boolean): void;
  clientDisconnected?(client: ClientInfo, reason: string): void;
  /** A message was accepted by the broker (after authorization), for routes and observers. */
  messagePublished?(client: ClientInfo | null, msg: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }): void;
}
