// UNSUBSCRIBE: remove the filters (unknown ones are fine) and UNSUBACK [MQTT-3.10.4-4/5].
import type { IUnsubscribePacket, Packet } from 'mqtt-packet';
import type { Connection } from '../connection';

export function handleUnsubscribe(conn: Connection, p: IUnsubscribePacket): void {
  const broker = conn.broker;
  broker.store.transaction(() => {
    for (const f of p.unsubscriptions) broker.unsubscribe(conn.session!, f);
  });
  conn.send({ cmd: 'unsuback', messageId: p.messageId } as Packet);
}
