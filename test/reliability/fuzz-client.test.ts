// The firmware client on the simulated board, fed mutated server packets by a
// scripted peer over real sockets (fixed seed; `npm run soak` runs more).
import { strict as assert } from 'assert';
import { clientFuzzRun } from './support/client-fuzz';

describe('reliability: firmware client under fuzz (scripted peer, simulated ESP32)', function () {
  this.timeout(60000);

  it('120 mutated packets: malformed ones end in an error event and a reconnect; never an Uncaught; memory back to baseline', async () => {
    const res = await clientFuzzRun(0xc11e, 120);
    assert.deepEqual(res.failures, []);
    assert.equal(res.cases, 120);
    assert.deepEqual(res.uncaught, []);
    assert.ok(res.errorsSeen > 10, `error events were raised (${res.errorsSeen})`);
    assert.ok(res.memory.after <= res.memory.baseline + 8, `board memory ${res.memory.after} vars vs baseline ${res.memory.baseline}`);
  });
});
