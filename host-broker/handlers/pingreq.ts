// PINGREQ: answer PINGRESP [MQTT-3.12.4-1]. Any packet resets the keepalive clock.
import type { IPingreqPacket } from 'mqtt-packet';
import type { Connection } from '../connection';

export function handlePingreq(conn: Connection, _p: IPingreqPacket): void {
  conn.send({ cmd: 'pingresp' });
}
