// What a transcript keeps of a packet: its shape and ids, a short payload
// preview, never a password.
import type { Packet } from 'mqtt-packet';

export const PAYLOAD_PREVIEW_BYTES = 256;

export interface PacketSummary {
  cmd: string;
  messageId?: number;
  qos?: number;
  dup?: boolean;
  retain?: boolean;
  topic?: string;
  payloadBytes?: number;
  /** First PAYLOAD_PREVIEW_BYTES bytes as UTF-8 (lossy for binary payloads). */
  payload?: string;
  clientId?: string;
  username?: string;
  clean?: boolean;
  keepalive?: number;
  will?: { topic: string; qos: number; retain: boolean };
  returnCode?: number;
  sessionPresent?: boolean;
  subscriptions?: { topic: string; qos: number }[];
  unsubscriptions?: string[];
  granted?: number[];
}

export function summarizePacket(packet: Packet): PacketSummary {
  const p = packet as any;
  const s: PacketSummary = { cmd: p.cmd };
  if (typeof p.messageId === 'number') s.messageId = p.messageId;
  switch (p.cmd) {
    case 'publish': {
      s.topic = p.topic;
      s.qos = p.qos ?? 0;
      s.dup = !!p.dup;
      s.retain = !!p.retain;
      const payload = p.payload == null ? Buffer.alloc(0) : Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(String(p.payload));
      s.payloadBytes = payload.length;
      s.payload = payload.subarray(0, PAYLOAD_PREVIEW_BYTES).toString('utf8');
      break;
    }
    case 'connect':
      s.clientId = p.clientId;
      if (p.username !== undefined) s.username = p.username;
      s.clean = !!p.clean;
      s.keepalive = p.keepalive;
      if (p.will) s.will = { topic: p.will.topic, qos: p.will.qos ?? 0, retain: !!p.will.retain };
      break;
    case 'connack':
      s.returnCode = p.returnCode;
      s.sessionPresent = !!p.sessionPresent;
      break;
    case 'subscribe':
      s.subscriptions = (p.subscriptions || []).map((x: any) => ({ topic: x.topic, qos: x.qos }));
      break;
    case 'suback':
      s.granted = (p.granted || []).slice();
      break;
    case 'unsubscribe':
      s.unsubscriptions = (p.unsubscriptions || []).slice();
      break;
    case 'pubrel':
      break;
  }
  return s;
}
