// A flood of sockets that never send CONNECT must not lock everyone else out:
// at maxConnections the broker makes room by closing the oldest socket still
// waiting for its CONNECT (with a limit_exceeded event), instead of refusing
// every newcomer until the flood's CONNECT timeouts run out.
import { strict as assert } from 'assert';
import * as net from 'net';
import type { Packet } from 'mqtt-packet';
import { RawClient, startBroker, until, type Running } from '../broker/support';

describe('reliability: connection flood', function () {
  this.timeout(30000);
  let r: Running;
  const flood: net.Socket[] = [];
  beforeEach(async () => { r = await startBroker({ limits: { maxConnections: 40, connectTimeoutMs: 20000 } }); });
  afterEach(async () => { for (const s of flood.splice(0)) s.destroy(); await r.broker.close(); });

  const silentSocket = () => new Promise<net.Socket>((resolve) => {
    const s = net.connect(r.port, '127.0.0.1', () => resolve(s));
    s.on('error', () => undefined);
    flood.push(s);
  });

  it('200 silent sockets against maxConnections 40: a real client still connects, connected clients stay, each eviction is an event', async () => {
    const early = await RawClient.connect(r.port, { clientId: 'early' });
    for (let i = 0; i < 200; i++) await silentSocket();
    const late = await RawClient.connect(r.port, { clientId: 'late' });
    late.send({ cmd: 'pingreq' } as Packet);
    await late.next('pingresp');
    early.send({ cmd: 'pingreq' } as Packet);
    await early.next('pingresp');
    assert.equal(early.closed, false, 'a connected client is never evicted for a newcomer');
    await until(() => r.events.filter((e) => e.kind === 'limit_exceeded').length >= 150, 'limit_exceeded events');
    assert.ok((r.broker as any).conns.size <= 40, 'never more than maxConnections sockets');
  });

  it('when every slot holds a connected client, a newcomer is refused (the limit still holds)', async () => {
    const clients: RawClient[] = [];
    for (let i = 0; i < 40; i++) clients.push(await RawClient.connect(r.port, { clientId: `c${i}` }));
    const s = await silentSocket();
    await until(() => s.destroyed || s.readableEnded, 'the refused socket to close');
    assert.equal(r.broker.clients().length, 40);
    for (const c of clients) c.destroy();
  });
});
