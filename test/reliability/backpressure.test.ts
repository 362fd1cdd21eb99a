// A client that asks for a lot and never reads what it asked for must not make
// the broker buffer without bound: each re-SUBSCRIBE re-sends the retained
// message [MQTT-3.8.4-3], so 10-byte requests can ask for 512 KB answers.
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import { RawClient, sleep, startBroker, until, type Running } from '../broker/support';

const BIG = 512 * 1024;
/** The broker stops reading a client whose unread output passes 8 MiB (connection.ts). */
const BOUND = 8 * 1024 * 1024 + 2 * BIG;

function serverSocketOf(r: Running, clientId: string): { writableLength: number } | undefined {
  const conns: Set<any> = (r.broker as any).conns;
  return [...conns].find((c) => c.info.clientId === clientId)?.socket;
}

describe('reliability: output backpressure', function () {
  this.timeout(30000);
  let r: Running;
  beforeEach(async () => { r = await startBroker({ limits: { maxPacketSize: 2 * BIG } }); });
  afterEach(async () => { await r.broker.close(); });

  it('100 SUBSCRIBEs for a 512 KB retained message from a client that does not read: the backlog stays bounded, then everything arrives', async () => {
    await r.broker.publish({ topic: 'big', payload: Buffer.alloc(BIG, 0x42), qos: 0, retain: true });
    const greedy = await RawClient.connect(r.port, { clientId: 'greedy' });
    greedy.socket.pause(); // reads nothing from now on
    const n = 100;
    for (let i = 1; i <= n; i++) greedy.send({ cmd: 'subscribe', messageId: i, subscriptions: [{ topic: 'big', qos: 0 }] } as Packet);
    let max = 0;
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      max = Math.max(max, serverSocketOf(r, 'greedy')?.writableLength ?? 0);
      await sleep(5);
    }
    assert.ok(max <= BOUND, `the broker buffered ${max} bytes for a client that reads nothing (bound ${BOUND})`);
    // Others are served meanwhile.
    const other = await RawClient.connect(r.port, { clientId: 'other' });
    other.send({ cmd: 'pingreq' } as Packet);
    await other.next('pingresp');
    // Once the client reads again, nothing was lost: every SUBACK and every copy arrives.
    greedy.socket.resume();
    await until(() => greedy.packets.filter((p) => p.cmd === 'suback').length === n, `${n} SUBACKs`, 20000);
    await until(() => greedy.packets.filter((p) => p.cmd === 'publish').length === n, `${n} retained copies`, 20000);
    assert.equal(greedy.closed, false);
  });
});
