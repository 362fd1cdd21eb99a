// The firmware client (minified bundle, simulated ESP32) with a persistent
// session, cut off at random points of QoS 1 and QoS 2 flows in both
// directions by broker fault rules and simulator link drops. A sample in CI;
// `npm run soak` does at least 1,000 disconnects.
import { strict as assert } from 'assert';
import { clientFaultRun, MEMORY_SLACK } from './support/client-faults';

describe('reliability: firmware client under abrupt disconnects (persistent session)', function () {
  this.timeout(60000);

  it('30 disconnects mid-flow: QoS 1 at least once, QoS 2 exactly once, order per topic kept, memory back to baseline', async () => {
    const res = await clientFaultRun(30, 0xfa017);
    assert.equal(res.disconnects, 30);
    assert.deepEqual(res.uncaught, [], 'no Uncaught on the board');
    assert.equal(res.refusedPublishes, 0);
    for (const dir of ['up', 'down'] as const) {
      const d = res[dir];
      assert.ok(d.sent > 30, `${dir}: enough traffic (${d.sent})`);
      assert.deepEqual(d.missing, [], `${dir}: lost messages`);
      assert.deepEqual(d.qos2Twice, [], `${dir}: QoS 2 delivered twice`);
      assert.deepEqual(d.outOfOrder, [], `${dir}: order per topic`);
      assert.equal(d.received, d.sent);
    }
    assert.ok(res.memory.after <= res.memory.baseline + MEMORY_SLACK, `board memory ${res.memory.after} vars vs baseline ${res.memory.baseline}`);
  });
});
