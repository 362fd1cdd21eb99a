// PUBCOMP from a client: the QoS 2 flow is over; the window may take the next message.
import type { IPubcompPacket } from 'mqtt-packet';
import type { Connection } from '../connection';
import { ackViolation } from './ack-order';

export function handlePubcomp(conn: Connection, p: IPubcompPacket): void {
  const wrong = ackViolation(conn.session!, 'pubcomp', p.messageId!);
  if (wrong) { conn.violation('protocol_violation', wrong, p); return; }
  if (conn.session!.completed(p.messageId!)) conn.broker.pump(conn.session!);
}
