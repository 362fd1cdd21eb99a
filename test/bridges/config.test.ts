// Bridge config, topic mappings, backoff and echo suppression: the pure parts.
import { strict as assert } from 'assert';
import { backoffDelay } from '../../host-broker/bridges/backoff';
import { BRIDGE_DEFAULTS, BridgeConfigError, redactBridge, validateBridge, validateBridges } from '../../host-broker/bridges/config';
import { EchoFilter, ECHO_WINDOW_MS } from '../../host-broker/bridges/echo';
import { connackError, describeLinkError } from '../../host-broker/bridges/errors';
import { inbound, outbound, remoteFilter, subscriptions } from '../../host-broker/bridges/mapping';
import type { TopicMapping } from '../../host-broker/bridges/types';
import { validateConfig } from '../../host-broker/config';

const base = { name: 'cloud', url: 'mqtt://127.0.0.1:1883', mappings: [{ direction: 'out', filter: 'sensors/#' }] };
const fails = (raw: unknown, field: string, what: RegExp) => {
  assert.throws(() => validateBridge(raw), (err: any) => {
    assert.ok(err instanceof BridgeConfigError, `BridgeConfigError, got ${err}`);
    assert.equal(err.field, field, err.message);
    assert.match(err.message, what);
    return true;
  });
};

describe('bridges: config', () => {
  it('fills in the defaults', () => {
    const b = validateBridge(base);
    assert.equal(b.keepalive, BRIDGE_DEFAULTS.keepalive);
    assert.equal(b.cleanSession, false);
    assert.equal(b.maxInflight, 20);
    assert.deepEqual(b.queue, BRIDGE_DEFAULTS.queue);
    assert.deepEqual(b.mappings, [{ direction: 'out', filter: 'sensors/#', localPrefix: '', remotePrefix: '', qos: 1 }]);
    assert.match(b.clientId, /^hub-.+-cloud$/);
    assert.equal(b.tls, undefined);
    assert.equal(b.pingTimeoutMs, 10_000);
    assert.equal(validateBridge({ ...base, keepalive: 3 }).pingTimeoutMs, 3000, 'never longer than the keepalive');
  });

  it('takes every scheme, credentials, TLS files relative to the config file', () => {
    for (const url of ['mqtt://h', 'mqtts://h:8883', 'ws://h:8080/mqtt', 'wss://h/mqtt?x=1']) assert.ok(validateBridge({ ...base, url }));
    const b = validateBridge({ ...base, url: 'mqtts://iot.example:8883', clientId: 'dev-1', username: 'u', password: 'p',
      tls: { caFile: 'ca.pem', certFile: 'certs/dev.pem', keyFile: 'certs/dev.key', servername: 'iot.example' } }, 'bridge', '/etc/hub');
    assert.deepEqual(b.tls, { verifyServer: true, caFile: '/etc/hub/ca.pem', certFile: '/etc/hub/certs/dev.pem', keyFile: '/etc/hub/certs/dev.key', servername: 'iot.example' });
    assert.equal(redactBridge(b).password, '***');
    assert.equal(b.password, 'p', 'redaction copies');
    assert.deepEqual(validateBridge(b), b, 'a validated config validates to itself (start-hub validates twice)');
  });

  it('names the field and what was expected', () => {
    fails({ ...base, name: 'no spaces' }, 'bridge.name', /letters, digits/);
    fails({ ...base, url: 'http://h' }, 'bridge.url', /mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//);
    fails({ ...base, url: 'not a url' }, 'bridge.url', /expected a URL/);
    fails({ ...base, url: 'mqtt://user:pw@h' }, 'bridge.url', /give them as username and password/);
    fails({ ...base, url: 'mqtt://h/path' }, 'bridge.url', /no path/);
    fails({ ...base, url: 'mqtt://h:0' }, 'bridge.url', /port/);
    fails({ ...base, tls: { caFile: 'x' } }, 'bridge.tls', /only for mqtts/);
    fails({ ...base, url: 'mqtts://h', tls: { certFile: 'c.pem' } }, 'bridge.tls.keyFile', /together/);
    fails({ ...base, url: 'mqtts://h', tls: { verify: false } }, 'bridge.tls.verify', /unknown field/);
    fails({ ...base, password: 'p' }, 'bridge.password', /user name/);
    fails({ ...base, keepalive: -1 }, 'bridge.keepalive', /0 to 65535/);
    fails({ ...base, mappings: [] }, 'bridge.mappings', /non-empty list/);
    fails({ ...base, mappings: [{ direction: 'up', filter: '#' }] }, 'bridge.mappings[0].direction', /'out', 'in' or 'both'/);
    fails({ ...base, mappings: [{ direction: 'out', filter: 'a/#/b' }] }, 'bridge.mappings[0].filter', /expected an MQTT topic filter: .*'#' (must be )?last/);
    fails({ ...base, mappings: [{ direction: 'out', filter: 'x/#', localPrefix: 'a/' }] }, 'bridge.mappings[0].filter', /starting with localPrefix/);
    fails({ ...base, mappings: [{ direction: 'out', filter: 'a/#', remotePrefix: 'b/+/' }] }, 'bridge.mappings[0].remotePrefix', /without wildcards/);
    fails({ ...base, mappings: [{ direction: 'out', filter: 'a', localPrefix: 'a' }] }, 'bridge.mappings[0].remotePrefix', /not a valid filter/);
    fails({ ...base, mappings: [{ direction: 'out', filter: 'a', qos: 3 }] }, 'bridge.mappings[0].qos', /0 to 2/);
    fails({ ...base, reconnect: { initialMs: 500, maxMs: 100 } }, 'bridge.reconnect.maxMs', /at least initialMs/);
    fails({ ...base, queue: { maxBytes: 10 } }, 'bridge.queue.maxBytes', /1024/);
    fails({ ...base, typo: 1 }, 'bridge.typo', /unknown field/);
    assert.throws(() => validateBridges([base, base]), /bridges\[1\]\.name: expected a unique name/);
  });

  it('is part of the hub config file, with the field path', () => {
    assert.equal(validateConfig({ bridges: [base] }).bridges[0].name, 'cloud');
    assert.deepEqual(validateConfig({}).bridges, []);
    assert.throws(() => validateConfig({ bridges: [{ ...base, url: 'ftp://x' }] }), /^ConfigError: bridges\[0\]\.url: expected an mqtt:\/\//);
  });
});

describe('bridges: topic mappings', () => {
  const m = (direction: TopicMapping['direction'], filter: string, localPrefix = '', remotePrefix = '', qos: 0 | 1 | 2 = 1): TopicMapping =>
    ({ direction, filter, localPrefix, remotePrefix, qos });

  it('swaps the local prefix for the remote one going out, with the mapping\'s QoS as the cap', () => {
    const maps = [m('out', 'sensors/#', 'sensors/', 'site1/s/', 1), m('in', 'cmd/#', '', 'site1/')];
    assert.deepEqual(outbound(maps, 'sensors/t1'), { topic: 'site1/s/t1', qos: 1 });
    assert.equal(outbound(maps, 'cmd/x'), null, 'in mappings do not send');
    assert.equal(outbound(maps, 'other'), null);
    assert.equal(outbound(maps, 'sensors'), null, "matches sensors/# but lacks the 'sensors/' prefix");
    assert.equal(outbound([m('out', '#')], '$hub/events/x'), null, '# does not match $ topics [MQTT-4.7.2-1]');
  });

  it('the first mapping that matches decides', () => {
    assert.deepEqual(outbound([m('out', 'a/#', '', 'one/'), m('both', 'a/b', '', 'two/')], 'a/b'), { topic: 'one/a/b', qos: 1 });
  });

  it('swaps the remote prefix back coming in, and subscribes to the remote side', () => {
    const maps = [m('in', 'cmd/#', 'cmd/', 'fleet/hub1/cmd/', 2), m('both', 'shared/+', '', 'x/', 0), m('in', 'cmd/#', 'cmd/', 'fleet/hub1/cmd/', 1)];
    assert.equal(remoteFilter(maps[0]), 'fleet/hub1/cmd/#');
    assert.equal(inbound(maps, 'fleet/hub1/cmd/dev1/reboot'), 'cmd/dev1/reboot');
    assert.equal(inbound(maps, 'x/shared/a'), 'shared/a');
    assert.equal(inbound(maps, 'elsewhere'), null);
    assert.deepEqual(subscriptions(maps), [{ topic: 'fleet/hub1/cmd/#', qos: 2 }, { topic: 'x/shared/+', qos: 0 }]);
  });
});

describe('bridges: backoff and echo suppression', () => {
  it('doubles to the cap, each delay drawn from the upper half', () => {
    const b = { initialMs: 100, maxMs: 1000 };
    assert.deepEqual([1, 2, 3, 4, 5, 30].map((n) => backoffDelay(n, b, () => 1)), [100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual([1, 2, 5].map((n) => backoffDelay(n, b, () => 0)), [50, 100, 500]);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, b);
      assert.ok(d >= 200 && d <= 400, String(d));
    }
  });

  it('drops one copy per message sent, within the window only', () => {
    const e = new EchoFilter();
    const p = Buffer.from('on');
    e.expect('a/b', p, 0);
    e.expect('a/b', p, 0);
    assert.equal(e.take('a/b', Buffer.from('off'), 1), false, 'another payload is not an echo');
    assert.equal(e.take('a/c', p, 1), false, 'nor another topic');
    assert.equal(e.take('a/b', p, 1), true);
    assert.equal(e.take('a/b', p, 2), true);
    assert.equal(e.take('a/b', p, 3), false, 'two sent, two dropped: the third is someone else\'s');
    e.expect('a/b', p, 0);
    assert.equal(e.take('a/b', p, ECHO_WINDOW_MS + 1), false, 'too late to be an echo');
    assert.equal(e.size, 0);
  });
});

describe('bridges: failure reasons', () => {
  const err = (code: string, message = code) => Object.assign(new Error(message), { code });
  it('says what went wrong and whether the config must change', () => {
    const cases: [unknown, RegExp, 'warning' | 'error'][] = [
      [err('ECONNREFUSED'), /connection refused by h:1883: nothing listens there \(upstream down\?\) \[ECONNREFUSED\]/, 'warning'],
      [err('ENOTFOUND'), /cannot resolve the host name of h:1883 \(DNS\) \[ENOTFOUND\]/, 'warning'],
      [err('ECONNRESET'), /the connection to h:1883 was reset/, 'warning'],
      [err('ETIMEDOUT'), /timed out/, 'warning'],
      [err('EHOSTUNREACH'), /unreachable: no route/, 'warning'],
      [err('CERT_HAS_EXPIRED'), /^TLS: the certificate of h:1883 has expired/, 'error'],
      [err('SELF_SIGNED_CERT_IN_CHAIN'), /not signed by a CA this bridge trusts \(give its CA as tls\.caFile\)/, 'error'],
      [err('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'), /refused the handshake with alert "bad certificate"/, 'error'],
      [new Error('Unexpected server response: 404'), /refused the WebSocket upgrade with HTTP 404 \(check the URL path/, 'error'],
    ];
    for (const [e, re, severity] of cases) {
      const l = describeLinkError(e, 'h:1883');
      assert.match(l.reason, re);
      assert.equal(l.severity, severity, l.reason);
    }
    assert.match(connackError(4).reason, /bad user name or password \(check username and password\) \[CONNACK 4\]/);
    assert.equal(connackError(3).severity, 'warning', 'server unavailable: try again later');
    assert.equal(connackError(5).severity, 'error');
  });
});
