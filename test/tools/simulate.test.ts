// `npm run simulate` as a spawned process: fleet vs the broker in a child process.
import { strict as assert } from 'assert';
import { runTool } from './run';

describe('npm run simulate (tools/simulate.ts)', function () {
  this.timeout(90000);

  it('runs a fleet and reports connections, messages/s and the broker\'s and simulator\'s CPU and memory separately', async () => {
    const r = await runTool('tools/simulate.ts', ['--boards', '4', '--duration', '4', '--interval', '500', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rep = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(rep.boards, 4);
    assert.equal(rep.connected, 4);
    assert.ok(rep.messages > 4, `messages ${rep.messages}`);
    assert.ok(rep.messagesPerSecond > 0);
    assert.equal(rep.boardErrors, 0);
    for (const side of ['broker', 'simulator']) {
      assert.ok(rep[side].cpuMs >= 0 && rep[side].rssMiB > 10 && rep[side].heapMiB > 1, `${side}: ${JSON.stringify(rep[side])}`);
    }
    // Two processes: their memory figures are not one process counted twice.
    assert.notDeepEqual(rep.broker, rep.simulator);
  });
});
