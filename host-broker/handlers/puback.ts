// PUBACK from a client: a QoS 1 delivery is done; the window may take the next message.
import type { IPubackPacket } from 'mqtt-packet';
import type { Connection } from '../connection';

export function handlePuback(conn: Connection, p: IPubackPacket): void {
  if (conn.session!.acknowledge(p.messageId!)) conn.broker.pump(conn.session!);
}
