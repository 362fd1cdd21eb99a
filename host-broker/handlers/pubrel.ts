// PUBREL from a client: forget the QoS 2 packet id, answer PUBCOMP (also for an
// id we do not know, so a client retrying after our restart can finish) [MQTT-4.3.3-2].
import type { IPubrelPacket } from 'mqtt-packet';
import type { Connection } from '../connection';

export function handlePubrel(conn: Connection, p: IPubrelPacket): void {
  conn.broker.store.transaction(() => conn.session!.releaseInboundQos2(p.messageId!));
  conn.send({ cmd: 'pubcomp', messageId: p.messageId! });
}
