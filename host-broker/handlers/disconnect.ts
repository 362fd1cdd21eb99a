// DISCONNECT: the client leaves cleanly, so its Will is discarded [MQTT-3.14.4-3].
import type { IDisconnectPacket } from 'mqtt-packet';
import type { Connection } from '../connection';

export function handleDisconnect(conn: Connection, _p: IDisconnectPacket): void {
  conn.will = null;
  conn.close('DISCONNECT', { will: false, graceful: true });
}
