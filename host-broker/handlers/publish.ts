// PUBLISH from a client: authorization (a refused message is dropped but still
// acknowledged), then routing. For QoS 1/2 the acknowledgement goes out only
// after the message is durably stored. QoS 2 uses the packet id to deliver once
// (the id is stored until PUBREL).
import type { IPublishPacket } from 'mqtt-packet';
import type { Connection } from '../connection';

export function handlePublish(conn: Connection, p: IPublishPacket): void {
  const broker = conn.broker;
  const session = conn.session!;
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : Buffer.from(p.payload);
  const msg = { topic: p.topic, payload, qos: p.qos, retain: !!p.retain };
  const id = p.messageId!;
  broker.stats.publishReceived[p.qos]++;
  broker.stats.publishBytesReceived += payload.length;

  if (p.qos === 2 && session.inboundQos2.has(id)) {
    // A resend of a message we already have: acknowledge, do not deliver again [MQTT-4.3.3-2].
    conn.send({ cmd: 'pubrec', messageId: id });
    return;
  }
  const allowed = broker.authorizePublish(conn.info, p.topic, false);
  if (!allowed) conn.event('unauthorized_topic', 'warning', `publishing to ${JSON.stringify(p.topic)} is not allowed for this client; the message was dropped`, p);
  broker.publishFrom(conn.info, allowed ? msg : null, () => {
    if (p.qos === 2) session.addInboundQos2(id);
  });
  if (p.qos === 1) conn.send({ cmd: 'puback', messageId: id });
  else if (p.qos === 2) conn.send({ cmd: 'pubrec', messageId: id });
}
