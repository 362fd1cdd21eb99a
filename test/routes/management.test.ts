// The management functions the CLI and control API use: list, add, remove, dead letters.
import { strict as assert } from 'assert';
import { RouteConfigError, RouteManager } from '../../host-broker/routes';
import { eventLog, FAST, tempDir } from './fixtures/common';
import { httpTarget, HttpTarget } from './fixtures/http-target';

describe('routes: management', () => {
  let tmp: ReturnType<typeof tempDir>;
  let target: HttpTarget;
  let mgr: RouteManager;

  beforeEach(async () => {
    tmp = tempDir('routes-mgmt-');
    target = await httpTarget();
    mgr = new RouteManager({ queue: `${tmp.dir}/q.sqlite`, report: eventLog().report, routes: [] });
    mgr.start();
  });
  afterEach(async () => {
    await mgr.close();
    await target.stop();
    tmp.remove();
  });

  const route = (name: string, filter = 'sensors/#') => ({ name, type: 'rest', filter, uri: target.url, delivery: FAST });
  const pub = (topic: string, payload = 'x') => mgr.enqueue({ topic, payload: Buffer.from(payload), qos: 0, retain: false });

  it('add, list with queue depth and stats, remove', async () => {
    const added = mgr.add(route('a'));
    assert.equal(added.name, 'a');
    assert.equal(added.state, 'idle');
    mgr.add(route('b', 'sensors/b/+'));
    assert.deepEqual(pub('sensors/b/1'), ['a', 'b']);
    assert.deepEqual(pub('sensors/c'), ['a']);
    const list = mgr.list();
    assert.deepEqual(list.map((r) => [r.name, r.type, r.filter, r.queueDepth]), [['a', 'rest', 'sensors/#', 2], ['b', 'rest', 'sensors/b/+', 1]]);
    assert.equal(list[0].stats.enqueued, 2);
    assert.equal(list[0].deadLetters, 0);

    assert.deepEqual(await mgr.remove('b'), { removed: true, discarded: 1 });
    assert.equal(mgr.get('b'), undefined);
    assert.deepEqual(pub('sensors/b/2'), ['a']);
    await target.start();
    await mgr.drain();
    assert.equal(mgr.get('a')!.stats.delivered, 3);
    assert.equal(target.received.length, 3);
    assert.deepEqual(await mgr.remove('nope'), { removed: false, discarded: 0 });
  });

  it('add refuses bad config and names in use with RouteConfigError', () => {
    mgr.add(route('a'));
    assert.throws(() => mgr.add(route('a')), (e: unknown) => e instanceof RouteConfigError && /exists/.test(e.message));
    assert.throws(() => mgr.add({ ...route('c'), filter: 'a/#/b' }), (e: unknown) => e instanceof RouteConfigError && e.field === 'route.filter');
  });

  it('remove with keepQueue keeps messages for a route added back later', async () => {
    mgr.add(route('a'));
    pub('sensors/1', 'waiting');
    assert.deepEqual(await mgr.remove('a', { keepQueue: true }), { removed: true, discarded: 0 });
    await target.start();
    mgr.add(route('a'));
    await mgr.drain();
    assert.deepEqual(target.received.map((r) => r.body.toString()), ['waiting']);
  });

  it('drain rejects with the queue depths when a target stays down', async () => {
    mgr.add(route('a'));
    pub('sensors/1');
    await assert.rejects(mgr.drain('a', 200), /not drained within 200 ms: a=1/);
    await assert.rejects(mgr.drain('zzz'), /no route named "zzz"/);
  });

  it('a closed manager routes nothing and refuses changes', async () => {
    mgr.add(route('a'));
    await mgr.close();
    assert.deepEqual(pub('sensors/1'), []);
    assert.throws(() => mgr.add(route('b')), /closed/);
  });
});
