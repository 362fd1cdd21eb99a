// PUBREC from a client: a QoS 2 delivery reached it; release it with PUBREL. A
// PUBREC for an id with nothing in flight is answered with PUBREL too, so a
// client finishing a flow the hub has forgotten (a lost clean session) can end it.
import type { IPubrecPacket } from 'mqtt-packet';
import type { Connection } from '../connection';
import { ackViolation } from './ack-order';

export function handlePubrec(conn: Connection, p: IPubrecPacket): void {
  const wrong = ackViolation(conn.session!, 'pubrec', p.messageId!);
  if (wrong) { conn.violation('protocol_violation', wrong, p); return; }
  conn.session!.received(p.messageId!);
  conn.send({ cmd: 'pubrel', messageId: p.messageId! });
}
