// S3 routes against s3rver, a real S3-compatible server on 127.0.0.1.
import { strict as assert } from 'assert';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { formatRfc3339Nano, parseRfc3339Nano } from '../../host-broker/routes/clock';
import { RouteManager } from '../../host-broker/routes';
import { eventLog, FAST, oneRouteManager, publishTo, tempDir, waitFor } from './fixtures/common';
import { s3Server, S3Server } from './fixtures/s3-server';

describe('routes: S3-compatible object storage', function () {
  this.timeout(30000);
  let tmp: ReturnType<typeof tempDir>;
  let s3: S3Server;
  let client: S3Client;
  let mgr: RouteManager | null = null;

  beforeEach(async () => {
    tmp = tempDir('routes-s3-');
    s3 = await s3Server(`${tmp.dir}/s3`, ['telemetry']);
    client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials });
  });
  afterEach(async () => {
    if (mgr) await mgr.close();
    mgr = null;
    client.destroy();
    await s3.stop();
    tmp.remove();
  });

  function manager(route: Record<string, unknown>, events = eventLog()) {
    const m = oneRouteManager(tmp.dir, {
      name: 'store', type: 's3', filter: 'sensors/#', endpoint: s3.endpoint, bucket: 'telemetry', prefix: 'hub/',
      credentials: s3.credentials, strategy: 'per_message', delivery: FAST, ...route,
    }, { events });
    mgr = m.mgr;
    return m;
  }
  const publish = (m: RouteManager, topic: string, payload: string) => publishTo(m, topic, payload);
  const keys = async (prefix: string) => ((await client.send(new ListObjectsV2Command({ Bucket: 'telemetry', Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();
  const body = async (key: string) => (await (await client.send(new GetObjectCommand({ Bucket: 'telemetry', Key: key }))).Body!.transformToString());

  it('per_topic: one object per topic, holding the latest payload', async () => {
    await s3.start();
    const { mgr: m } = manager({ strategy: 'per_topic' });
    for (let i = 0; i < 5; i++) { publish(m, 'sensors/a', `a${i}`); publish(m, 'sensors/b', `b${i}`); }
    await m.drain();
    assert.deepEqual(await keys('hub/'), ['hub/sensors/a', 'hub/sensors/b']);
    assert.equal(await body('hub/sensors/a'), 'a4');
    assert.equal(await body('hub/sensors/b'), 'b4');
    publish(m, 'sensors/a', 'later');
    await m.drain();
    assert.equal(await body('hub/sensors/a'), 'later', 'overwritten');
  });

  it('per_message: <prefix>/<topic>/<RFC 3339 timestamp with nanoseconds>, one per message, in order', async () => {
    await s3.start();
    const before = BigInt(Date.now() - 1) * 1000000n;
    const { mgr: m } = manager({});
    for (let i = 0; i < 20; i++) publish(m, 'sensors/a', `m${i}`);
    await m.drain();
    const ks = await keys('hub/sensors/a/');
    assert.equal(ks.length, 20, 'no two messages share a key');
    const stamps = ks.map((k) => k.slice('hub/sensors/a/'.length));
    for (const s of stamps) {
      assert.match(s, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
      assert.equal(formatRfc3339Nano(parseRfc3339Nano(s)), s);
      assert.ok(parseRfc3339Nano(s) >= before && parseRfc3339Nano(s) <= BigInt(Date.now() + 1000) * 1000000n, 'close to the wall clock');
    }
    // Timestamps sort like publish order.
    assert.deepEqual(await Promise.all(ks.map(body)), Array.from({ length: 20 }, (_, i) => `m${i}`));
  });

  it('the server is down and comes back: nothing lost, each message once per key', async () => {
    const { mgr: m, events } = manager({ delivery: { ...FAST, concurrency: 4 } });
    for (let i = 0; i < 30; i++) publish(m, `sensors/${i % 3}`, `m${i}`);
    await waitFor(() => events.events.length >= 2, 'failure events while S3 is down');
    assert.match(events.events[0].message, /PutObject s3:\/\/telemetry\/hub\/sensors\/.*ECONNREFUSED/);
    await s3.start();
    await m.drain();
    for (let t = 0; t < 3; t++) {
      const ks = await keys(`hub/sensors/${t}/`);
      assert.deepEqual(await Promise.all(ks.map(body)), Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 3 === t).map((i) => `m${i}`));
    }
  });

  it('a missing bucket is refused: events with the S3 error, bounded retries, dead letters', async () => {
    await s3.start();
    const { mgr: m, events } = manager({ bucket: 'no-such-bucket', delivery: { ...FAST, maxAttempts: 2 } });
    publish(m, 'sensors/a', 'x');
    await waitFor(() => m.get('store')!.deadLetters === 1, 'dead letter');
    assert.equal(events.events.length, 2);
    assert.match(events.events[0].message, /NoSuchBucket \(HTTP 404\)/);
    assert.equal(events.events[1].severity, 'error');
  });

  it('unknown credentials are refused with the server\'s error', async () => {
    await s3.start();
    const { mgr: m, events } = manager({ credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'wrong' }, delivery: { ...FAST, maxAttempts: 1 } });
    publish(m, 'sensors/a', 'x');
    await waitFor(() => m.get('store')!.deadLetters === 1, 'dead letter');
    assert.match(events.events[0].message, /SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId/);
  });
});
