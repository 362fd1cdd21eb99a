import { strict as assert } from 'assert';
import type { HubEvent } from '../../host-broker/hooks';
import { AuthFailureThrottle } from '../../host-broker/security/auth-throttle';
import { connect, endAll, Hub, refusedWith, startHub } from './hub-fixture';

describe('security/auth-throttle: failed logins block an address for a while', () => {
  it('blocks after maxFailures within the window, reports once, and lifts after blockMs', () => {
    let t = 1000;
    const events: HubEvent[] = [];
    const th = new AuthFailureThrottle({ maxFailures: 3, windowMs: 100, blockMs: 500, now: () => t, report: (e) => events.push(e) });
    const a = { remoteAddress: '10.0.0.5' };
    th.recordFailure(a.remoteAddress);
    t += 150; // the first failure leaves the window
    th.recordFailure(a.remoteAddress);
    th.recordFailure(a.remoteAddress);
    assert.equal(th.acceptSocket(a), true);
    th.recordFailure(a.remoteAddress);
    assert.equal(th.acceptSocket(a), false);
    assert.equal(th.acceptSocket({ remoteAddress: '10.0.0.6' }), true, 'other addresses are unaffected');
    assert.equal(events.length, 1);
    assert.equal(events[0].kind, 'limit_exceeded');
    t += 500;
    assert.equal(th.acceptSocket(a), true);
  });

  it('maxFailures 0 turns it off; bad options name the field', () => {
    const th = new AuthFailureThrottle({ maxFailures: 0 });
    for (let i = 0; i < 50; i++) th.recordFailure('x');
    assert.equal(th.acceptSocket({ remoteAddress: 'x' }), true);
    assert.throws(() => new AuthFailureThrottle({ blockMs: -1 }), /authThrottle\.blockMs/);
  });

  it('keeps at most maxTracked addresses', () => {
    const th = new AuthFailureThrottle({ maxFailures: 2, maxTracked: 3 });
    for (let i = 0; i < 10; i++) th.recordFailure(`a${i}`);
    assert.ok((th as any).byAddress.size <= 3);
  });
});

describe('security/auth-throttle with a real broker', function () {
  this.timeout(20000);
  let hub: Hub;
  let reported: HubEvent[];
  before(async () => {
    reported = [];
    hub = await startHub({ throttle: new AuthFailureThrottle({ maxFailures: 2, blockMs: 60_000, report: (e) => reported.push(e) }) });
  });
  after(async () => { await endAll(); await hub.close(); });

  it('after repeated wrong passwords, new sockets from that address are closed at once', async () => {
    hub.registry.add({ id: 'g1', username: 'g', password: 'right' });
    const url = `mqtt://127.0.0.1:${hub.ports.tcp}`;
    assert.equal(await refusedWith(url, { username: 'g', password: 'guess1' }), 4);
    assert.equal(await refusedWith(url, { username: 'g', password: 'guess2' }), 4);
    await assert.rejects(connect(url, { username: 'g', password: 'right' }), /closed before CONNACK|ECONNRESET|EPIPE/);
    assert.equal(reported.length, 1);
    assert.match(reported[0].message, /2 failed logins from .*127\.0\.0\.1/);
  });
});
