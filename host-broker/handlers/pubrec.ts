// PUBREC from a client: a QoS 2 delivery reached it; release it with PUBREL.
import type { IPubrecPacket } from 'mqtt-packet';
import type { Connection } from '../connection';

export function handlePubrec(conn: Connection, p: IPubrecPacket): void {
  if (conn.session!.received(p.messageId!)) conn.send({ cmd: 'pubrel', messageId: p.messageId! });
}
