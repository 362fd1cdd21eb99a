// Packets out of order, both halves. What MQTT 3.1.1 requires an answer to gets
// its answer (PUBREL for an unknown id -> PUBCOMP, PUBREC for an unknown id ->
// PUBREL [MQTT-4.3.3-2], which a peer retrying after a restart relies on); stray
// PUBACK/PUBCOMP change nothing; packets only the other side may send end the
// connection.
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import { RawClient, startBroker, type Running } from '../broker/support';
import { Peer } from '../firmware/helpers/peer';
import { clientBoard, type ClientBoard } from '../firmware/helpers/board';

describe('reliability: packets out of order', function () {
  this.timeout(20000);

  describe('broker', () => {
    let r: Running;
    beforeEach(async () => { r = await startBroker(); });
    afterEach(async () => { await r.broker.close(); });

    it('[MQTT-4.3.3-2] PUBREL before any PUBLISH: PUBCOMP, nothing delivered, the link stays', async () => {
      const sub = await RawClient.connect(r.port, { clientId: 'watch' });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 2 }] } as Packet);
      await sub.next('suback');
      const c = await RawClient.connect(r.port, { clientId: 'early-rel' });
      c.send({ cmd: 'pubrel', messageId: 77 } as Packet);
      assert.equal(((await c.next('pubcomp')) as any).messageId, 77);
      c.send({ cmd: 'pingreq' } as Packet);
      await c.next('pingresp');
      assert.deepEqual(sub.packets.filter((p) => p.cmd === 'publish'), []);
    });

    it('[MQTT-4.3.3-2] PUBACK, PUBREC and PUBCOMP for ids never sent: PUBREL for the PUBREC only, the link stays, state unchanged', async () => {
      const c = await RawClient.connect(r.port, { clientId: 'stray', clean: false });
      for (const cmd of ['puback', 'pubrec', 'pubcomp']) c.send({ cmd, messageId: 9 } as Packet);
      c.send({ cmd: 'pingreq' } as Packet);
      await c.next('pingresp');
      assert.deepEqual(c.packets.map((p) => [p.cmd, (p as any).messageId]), [['pubrel', 9]]);
      assert.deepEqual(r.broker.sessions().map((s) => [s.clientId, s.inflight, s.queued]), [['stray', 0, 0]]);
    });

    it('[MQTT-3.1.0-2] a second CONNECT, and a SUBACK from a client: closed with protocol_violation', async () => {
      const c = await RawClient.connect(r.port, { clientId: 'twice' });
      c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'twice', keepalive: 0 } as Packet);
      assert.equal(await c.waitClosed(), true);
      const d = await RawClient.connect(r.port, { clientId: 'suback-sender' });
      d.send({ cmd: 'suback', messageId: 1, granted: [0] } as Packet);
      assert.equal(await d.waitClosed(), true);
      assert.deepEqual(r.events.map((e) => [e.kind, e.objectId]), [['protocol_violation', 'twice'], ['protocol_violation', 'suback-sender']]);
    });
  });

  describe('firmware client (simulated ESP32, scripted peer)', () => {
    let peer: Peer;
    let b: ClientBoard;
    beforeEach(async () => { peer = await new Peer().start(); });
    afterEach(async () => {
      assert.deepEqual(b.board.errors, [], 'no Uncaught on the board');
      b.destroy();
      await peer.stop();
    });

    it('[MQTT-4.3.3-2] PUBREL before PUBLISH, SUBACK / PUBACK / UNSUBACK to nothing: PUBCOMP for the PUBREL, the rest ignored, no message, the link stays', async () => {
      b = clientBoard('esp32', `{ host: "127.0.0.1", port: ${peer.port}, net: require("net"), clientId: "ooo", keepalive: 0 }`);
      b.run('c.connect()');
      await b.waitEvents('connect');
      const conn = await peer.connection(1);
      conn.send({ cmd: 'pubrel', messageId: 5 });
      conn.send({ cmd: 'suback', messageId: 6, granted: [1] });
      conn.send({ cmd: 'puback', messageId: 7 });
      conn.send({ cmd: 'unsuback', messageId: 8 });
      await peer.until('PUBCOMP 5', () => peer.of('pubcomp').find((p) => p.messageId === 5));
      // Still up: a real message after the strays is delivered.
      conn.send({ cmd: 'publish', topic: 'after', payload: Buffer.from('ok'), qos: 1, messageId: 9, retain: false, dup: false });
      await b.waitEvents('message');
      assert.deepEqual(b.events('message').map((e) => e[1]), ['after']);
      assert.equal(peer.conns.length, 1, 'no reconnect');
      assert.deepEqual(b.events('error'), []);
    });
  });
});
