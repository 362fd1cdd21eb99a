// CONNECT: client id rules, keepalive bounds, authentication, the Will's
// authorization, takeover and session resume, then CONNACK.
import { randomBytes } from 'crypto';
import type { IConnectPacket } from 'mqtt-packet';
import type { Connection } from '../connection';
import { packetSummary } from '../events';
import type { ConnectRequest } from '../hooks';
import { MQTT31_LEVEL, MQTT31_MAX_CLIENT_ID } from '../mqtt31';

export async function handleConnect(conn: Connection, p: IConnectPacket): Promise<void> {
  const broker = conn.broker;
  if (conn.state !== 'new') {
    // [MQTT-3.1.0-2]: a second CONNECT is a protocol violation.
    const msg = 'a second CONNECT on one connection [MQTT-3.1.0-2]';
    conn.event('protocol_violation', 'warning', msg, p);
    conn.close(msg, { will: true });
    return;
  }
  conn.state = 'connecting';
  conn.clearConnectTimer();
  const refuse = (returnCode: number, msg: string) => {
    conn.write({ cmd: 'connack', returnCode, sessionPresent: false });
    conn.close(msg, { will: false, graceful: true });
  };

  let clientId = p.clientId;
  const v31 = p.protocolVersion === MQTT31_LEVEL;
  if (v31 && (clientId === '' || Buffer.byteLength(clientId) > MQTT31_MAX_CLIENT_ID)) {
    // MQTT 3.1: the client id is 1 to 23 bytes, else CONNACK 2 "identifier rejected".
    const msg = `MQTT 3.1 client id ${JSON.stringify(clientId)} is ${Buffer.byteLength(clientId)} bytes; MQTT 3.1 allows 1 to ${MQTT31_MAX_CLIENT_ID} (MQTT 3.1 section 3.1)`;
    conn.event('protocol_violation', 'warning', msg, p);
    refuse(2, msg);
    return;
  }
  if (clientId === '') {
    if (!p.clean) {
      // [MQTT-3.1.3-8]: an empty client id needs clean session = 1.
      const msg = 'empty client id with clean session = 0 [MQTT-3.1.3-8]';
      conn.event('protocol_violation', 'warning', msg, p);
      refuse(2, msg);
      return;
    }
    clientId = `auto-${randomBytes(8).toString('hex')}`; // [MQTT-3.1.3-6]
  }
  conn.info.clientId = clientId;
  if (p.username !== undefined) conn.info.username = p.username;

  const { keepaliveMin, keepaliveMax } = broker.limits;
  const requested = p.keepalive ?? 0;
  let keepalive = requested;
  if (keepalive === 0 && keepaliveMin > 0) keepalive = keepaliveMin;
  keepalive = Math.min(Math.max(keepalive, keepaliveMin), keepaliveMax);
  if (keepalive !== requested) {
    conn.event('limit_exceeded', 'info', `keepalive ${requested} s is outside [${keepaliveMin}, ${keepaliveMax}]; the hub enforces ${keepalive} s`, p);
  }
  conn.keepalive = keepalive;

  const will = p.will ? { topic: p.will.topic, payload: Buffer.from(p.will.payload ?? Buffer.alloc(0)), qos: p.will.qos ?? 0, retain: !!p.will.retain } : undefined;
  const req: ConnectRequest = {
    client: conn.info, clientId, keepalive: requested, clean: !!p.clean,
    ...(p.username !== undefined ? { username: p.username } : {}),
    ...(p.password !== undefined ? { password: Buffer.from(p.password) } : {}),
    ...(will ? { will } : {}),
  };
  const auth = await broker.authenticate(req);
  if ((conn.state as string) === 'closed') return; // the socket went away while we waited
  if (!auth.ok) {
    if (auth.deviceId !== undefined) {
      // Filed under the device the refusal is about; the refused client is never mapped to it.
      broker.hubEvent({ kind: auth.event, severity: 'warning', objectType: 'device', objectId: auth.deviceId, message: auth.reason, packet: packetSummary(p) });
    } else {
      conn.event(auth.event, 'warning', auth.reason, p);
    }
    refuse(auth.returnCode, auth.reason);
    return;
  }
  if (auth.deviceId !== undefined) conn.info.deviceId = auth.deviceId;

  if (will && !broker.authorizePublish(conn.info, will.topic, true)) {
    const msg = `the Will topic ${JSON.stringify(will.topic)} is not allowed for this client`;
    conn.event('unauthorized_topic', 'warning', msg, { cmd: 'connect', topic: will.topic } as any);
    refuse(5, msg);
    return;
  }
  conn.will = will ?? null;

  const { sessionPresent } = broker.attachSession(conn, !!p.clean);
  conn.state = 'connected';
  // [MQTT-3.2.2-1..3]: session present only for a resumed persistent session; MQTT 3.1 has no such flag.
  conn.send({ cmd: 'connack', returnCode: 0, sessionPresent: sessionPresent && !v31 });
  conn.startKeepalive();
  broker.clientConnected(conn, sessionPresent);
  broker.resumeDelivery(conn);
}
