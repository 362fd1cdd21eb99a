// SUBSCRIBE: authorize each filter (0x80 and a hub event when refused), store
// the subscriptions, SUBACK in request order, then the matching retained messages.
import type { ISubscribePacket } from 'mqtt-packet';
import type { Connection } from '../connection';
import type { QoS } from '../store/types';

export function handleSubscribe(conn: Connection, p: ISubscribePacket): void {
  const broker = conn.broker;
  const granted: number[] = [];
  const accepted: { filter: string; qos: QoS }[] = [];
  broker.store.transaction(() => {
    for (const s of p.subscriptions) {
      if (!broker.authorizeSubscribe(conn.info, s.topic)) {
        conn.event('unauthorized_topic', 'warning', `subscribing to ${JSON.stringify(s.topic)} is not allowed for this client`, { cmd: 'subscribe', topic: s.topic, messageId: p.messageId } as any);
        granted.push(0x80);
        continue;
      }
      broker.subscribe(conn.session!, s.topic, s.qos);
      granted.push(s.qos);
      accepted.push({ filter: s.topic, qos: s.qos });
    }
  });
  conn.send({ cmd: 'suback', messageId: p.messageId, granted });
  // [MQTT-3.8.4-3]: a repeated subscription re-sends the retained messages too.
  for (const a of accepted) broker.sendRetained(conn, a.filter, a.qos);
}
