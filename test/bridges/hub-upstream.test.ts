// This hub as its own upstream (over TCP and over WebSocket): a fleet of edge
// hubs bridging into one. No loops: with `both` mappings on overlapping filters
// a message that came down is never sent back up, and the upstream's echo of a
// message an edge sent is not delivered twice on the edge.
import { strict as assert } from 'assert';
import { FAST, Peer, sleep, startBridgedHub, until, type BridgedHub } from './fixtures';

describe('bridges: this hub as the upstream', function () {
  this.timeout(60_000);
  let upstream: BridgedHub;
  const hubs: BridgedHub[] = [];
  const peers: Peer[] = [];
  const peer = async (url: string, opts = {}) => { const p = await Peer.connect(url, opts); peers.push(p); return p; };
  const edge = async (name: string, url: string, mappings: unknown[]) => {
    const h = await startBridgedHub([{ name: 'up', url, clientId: `edge-${name}`, keepalive: 5, ...FAST, mappings }], { memory: true });
    hubs.push(h);
    await until(() => h.eventsOf('bridge_connected').length === 1, `${name} connected`, 10_000, () => JSON.stringify(h.events.map((e) => e.message)));
    return h;
  };

  beforeEach(async () => { upstream = await startBridgedHub([], { ws: true }); });
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.end();
    for (const h of hubs.splice(0)) await h.close({ remove: true });
    await upstream.close({ remove: true });
  });

  for (const transport of ['tcp', 'ws'] as const) {
    it(`both directions on one overlapping filter (# both ways, over ${transport}): every message once on each side, nothing sent back up`, async () => {
      const url = transport === 'tcp' ? upstream.url : `ws://127.0.0.1:${upstream.wsPort}/mqtt`;
      const e = await edge('e1', url, [{ direction: 'both', filter: '#', qos: 1 }]);
      const local = await peer(e.url);
      await local.subscribe('#', 1);
      const cloud = await peer(upstream.url);
      await cloud.subscribe('#', 1);
      // Up: a device on the edge publishes.
      await local.publish('a/up', 'from the edge', 1);
      await until(() => cloud.on('a/up').length === 1, 'at the upstream');
      // Down: someone at the upstream publishes.
      await cloud.publish('a/down', 'from the cloud', 1);
      await until(() => local.on('a/down').length === 1, 'at the edge');
      await sleep(500); // a loop would have sent them round again by now
      assert.deepEqual(cloud.on('a/up'), ['from the edge']);
      assert.deepEqual(cloud.on('a/down'), ['from the cloud'], 'not sent back up by the both mapping');
      assert.deepEqual(local.on('a/up'), ['from the edge'], "the upstream's echo of our own message is dropped");
      assert.deepEqual(local.on('a/down'), ['from the cloud']);
      const st = e.bridges.get('up')!.stats;
      assert.equal(st.sent, 1);
      assert.equal(st.received, 1);
      assert.equal(st.echoesDropped, 1);
    });
  }

  it('out and in mappings that overlap with different prefixes: still no loop', async () => {
    // Out: sensors/# goes up as site/sensors/#; in: site/# comes down under site/ (so our own sensors come back as site/sensors/...).
    const e = await edge('e1', upstream.url, [
      { direction: 'out', filter: 'sensors/#', remotePrefix: 'site/' },
      { direction: 'in', filter: 'site/#' },
    ]);
    const local = await peer(e.url);
    await local.subscribe('#', 1);
    await local.publish('sensors/t', '20', 1);
    await sleep(500);
    // The copy that came down (on site/sensors/t, a different local topic) is dropped as our own echo;
    // and nothing arriving from upstream goes up again.
    assert.deepEqual(local.got.map((m) => m.topic), ['sensors/t']);
    assert.equal(e.bridges.get('up')!.stats.sent, 1);
    assert.equal(e.bridges.get('up')!.stats.echoesDropped, 1);
  });

  it('a WebSocket URL with the wrong path: a clear error event, and the right path connects', async () => {
    const strict = await startBridgedHub([], { ws: true, wsPath: '/mqtt', memory: true });
    hubs.push(strict);
    const e = await startBridgedHub([{ name: 'up', url: `ws://127.0.0.1:${strict.wsPort}/wrong`, ...FAST, mappings: [{ direction: 'out', filter: '#' }] }], { memory: true });
    hubs.push(e);
    await until(() => e.eventsOf('bridge_down').length > 0, 'bridge_down');
    const ev = e.eventsOf('bridge_down')[0];
    assert.equal(ev.severity, 'error');
    assert.match(ev.message, /^cannot connect to ws:\/\/127\.0\.0\.1:\d+\/wrong: 127\.0\.0\.1:\d+ refused the WebSocket upgrade with HTTP 400 \(check the URL path, e\.g\. \/mqtt\)/);
    await e.bridges.remove('up');
    e.bridges.add({ name: 'up', url: `ws://127.0.0.1:${strict.wsPort}/mqtt`, ...FAST, mappings: [{ direction: 'out', filter: '#' }] });
    await until(() => e.eventsOf('bridge_connected').length === 1, 'connected on /mqtt');
  });

  it('a fleet: edge hubs bridging into one upstream see each other\'s messages through it, once', async () => {
    const mappings = (site: string) => [
      { direction: 'out', filter: 'sensors/#', remotePrefix: `fleet/${site}/` },
      { direction: 'in', filter: 'fleet/#', localPrefix: 'fleet/', remotePrefix: 'fleet/' },
    ];
    const a = await edge('a', upstream.url, mappings('a'));
    const b = await edge('b', `ws://127.0.0.1:${upstream.wsPort}/`, mappings('b'));
    const atB = await peer(b.url);
    await atB.subscribe('fleet/#', 1);
    const devA = await peer(a.url);
    for (let i = 0; i < 20; i++) await devA.publish('sensors/t', `a${i}`, 1);
    await until(() => atB.on('fleet/a/sensors/t').length === 20, 'hub a\'s readings at hub b');
    await sleep(300);
    assert.deepEqual(atB.on('fleet/a/sensors/t'), Array.from({ length: 20 }, (_, i) => `a${i}`));
    assert.equal(b.bridges.get('up')!.stats.sent, 0, 'hub b forwarded none of them back');
    assert.equal(a.bridges.get('up')!.stats.sent, 20);
  });
});
