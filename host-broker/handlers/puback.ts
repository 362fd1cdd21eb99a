// PUBACK from a client: a QoS 1 delivery is done; the window may take the next message.
import type { IPubackPacket } from 'mqtt-packet';
import type { Connection } from '../connection';
import { ackViolation } from './ack-order';

export function handlePuback(conn: Connection, p: IPubackPacket): void {
  const wrong = ackViolation(conn.session!, 'puback', p.messageId!);
  if (wrong) { conn.violation('protocol_violation', wrong, p); return; }
  if (conn.session!.acknowledge(p.messageId!)) conn.broker.pump(conn.session!);
}
