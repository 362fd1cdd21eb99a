// route_failure events are rate-limited per route; what is held back is summarised, not lost.
import { strict as assert } from 'assert';
import { RouteFailureEvents } from '../../host-broker/routes/failure-events';
import { eventLog, waitFor } from './fixtures/common';

describe('routes: failure events', () => {
  it('at most N per route per second, then one summary with the count', async () => {
    const log = eventLog();
    const ev = new RouteFailureEvents(log.report, 3);
    for (let i = 0; i < 10; i++) ev.raise({ route: 'a', severity: 'warning', message: `fail ${i}`, msg: { topic: 't', qos: 1, payloadBytes: 4 } });
    ev.raise({ route: 'b', severity: 'error', message: 'other route' });
    assert.deepEqual(log.events.map((e) => e.message), ['fail 0', 'fail 1', 'fail 2', 'other route']);
    assert.deepEqual(log.events[0], {
      kind: 'route_failure', severity: 'warning', objectType: 'route', objectId: 'a', message: 'fail 0',
      packet: { cmd: 'publish', topic: 't', qos: 1, payloadBytes: 4 },
    });
    await waitFor(() => log.events.length === 5, 'the summary', 3000);
    assert.match(log.events[4].message, /^7 more failures of route a were not reported separately/);
    ev.close();
  });

  it('a throwing report callback does not break delivery bookkeeping', () => {
    const ev = new RouteFailureEvents(() => { throw new Error('broker closed'); });
    assert.doesNotThrow(() => ev.raise({ route: 'a', severity: 'warning', message: 'x' }));
  });
});
