// PUBCOMP from a client: the QoS 2 flow is over; the window may take the next message.
import type { IPubcompPacket } from 'mqtt-packet';
import type { Connection } from '../connection';

export function handlePubcomp(conn: Connection, p: IPubcompPacket): void {
  if (conn.session!.completed(p.messageId!)) conn.broker.pump(conn.session!);
}
