// RFC 3339 timestamps with nanoseconds, strictly increasing within a process.
import { strict as assert } from 'assert';
import { formatRfc3339Nano, NanoClock, parseRfc3339Nano } from '../../host-broker/routes/clock';

describe('routes: nanosecond clock', () => {
  it('formats UTC with nine fraction digits and parses back', () => {
    assert.equal(formatRfc3339Nano(1714566896123456789n), '2024-05-01T12:34:56.123456789Z');
    assert.equal(formatRfc3339Nano(5n), '1970-01-01T00:00:00.000000005Z');
    assert.equal(parseRfc3339Nano('2024-05-01T12:34:56.123456789Z'), 1714566896123456789n);
    assert.throws(() => parseRfc3339Nano('2024-05-01T12:34:56Z'), /nanoseconds/);
  });

  it('never repeats or goes back, even in a tight loop', () => {
    const c = new NanoClock();
    let last = c.nowNs();
    for (let i = 0; i < 100000; i++) {
      const t = c.nowNs();
      assert.ok(t > last);
      last = t;
    }
    const a = c.now();
    const b = c.now();
    assert.ok(a < b, 'string order follows time order');
  });

  it('starts from the wall clock and honours notBefore', () => {
    const c = new NanoClock();
    const now = BigInt(Date.now()) * 1000000n;
    const t = c.nowNs();
    assert.ok(t > now - 5000000000n && t < now + 5000000000n);
    c.notBefore(now + 10n ** 15n);
    assert.ok(c.nowNs() > now + 10n ** 15n);
  });
});
