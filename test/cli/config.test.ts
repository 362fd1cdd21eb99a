import { strict as assert } from 'assert';
import * as path from 'path';
import { resolveStartConfig } from '../../host-broker/cli';
import { validateConfig } from '../../host-broker/config';

describe('config: validation and flags', () => {
  it('accepts a full config and resolves relative paths against the config file directory', () => {
    const c = validateConfig({
      listeners: { tcp: { port: 1883 }, tls: { port: 8883, host: '0.0.0.0', keyFile: 'k.pem', certFile: 'c.pem' }, ws: { port: 8080, path: '/mqtt' } },
      control: { port: 8081 }, dataDir: 'data', memory: true, allowAnonymous: false,
      devices: [{ id: 'd1', username: 'u', password: 'p', allowInsecure: false, subscribe: { reject: ['#'] } }],
      filters: { publish: { reject: ['admin/#'] } },
      limits: { maxConnections: 10, keepaliveMin: 5, keepaliveMax: 600, maxQueuedBytesPerClient: 8 * 1024 * 1024 },
      events: { enabled: false, prefix: '$hub/ev' },
      routes: [],
      log: { level: 'debug' },
    }, '/etc/hub');
    assert.equal(c.dataDir, '/etc/hub/data');
    assert.equal(c.listeners.tls!.keyFile, '/etc/hub/k.pem');
    assert.deepEqual(c.devices[0].subscribe, { reject: ['#'] });
    assert.deepEqual(c.limits, { maxConnections: 10, keepaliveMin: 5, keepaliveMax: 600, maxQueuedBytesPerClient: 8 * 1024 * 1024 });
  });

  const bad: [unknown, RegExp][] = [
    [{ listen: {} }, /^config\.listen: unknown field/],
    [{ listeners: { tcp: { port: -1 } } }, /^listeners\.tcp\.port: expected a port number/],
    [{ listeners: { tls: { port: 1, keyFile: 'k' } } }, /^listeners\.tls: give keyFile and certFile together/],
    [{ listeners: { ws: { port: 1, path: 'mqtt' } } }, /^listeners\.ws\.path: expected a URL path/],
    [{ devices: {} }, /^devices: expected an array/],
    [{ devices: [{ id: 'a' }, { id: 'a' }] }, /^devices\[1\]\.id: device "a" appears twice/],
    [{ devices: [{ id: 'a', enabled: 'yes' }] }, /^devices\[0\]\.enabled: expected true or false/],
    [{ devices: [{ id: 'a', publish: { accept: ['x/#/y'] } }] }, /^devices\[0\]\.publish\.accept\[0\]: filter: .*'#'.*\(in "x\/#\/y"\)/],
    [{ filters: { publish: { allow: [] } } }, /^filters\.publish\.allow: unknown field \(expected one of: accept, reject\)/],
    [{ limits: { maxConnections: 0 } }, /^limits\.maxConnections: expected an integer 1\.\./],
    [{ limits: { keepaliveMin: 100, keepaliveMax: 10 } }, /^limits\.keepaliveMin: must not be above/],
    [{ limits: { maxQueuedBytesPerClient: '64MB' } }, /^limits\.maxQueuedBytesPerClient: expected an integer 0\.\./],
    [{ events: { prefix: '$hub/#' } }, /^events\.prefix: expected a topic prefix/],
    [{ routes: [{ name: 'r' }] }, /^routes\[0\]/],
    [{ log: { level: 'loud' } }, /^log\.level: expected one of/],
  ];
  for (const [cfg, re] of bad) {
    it(`refuses ${JSON.stringify(cfg)} naming the field`, () => assert.throws(() => validateConfig(cfg), (e: any) => re.test(e.message)));
  }

  it('flags: defaults to TCP 1883 on 127.0.0.1-by-default listeners, ./.hub-data; flags override the file', () => {
    const d = resolveStartConfig({}, '/work');
    assert.deepEqual(d.listeners, { tcp: { port: 1883 } });
    assert.equal(d.dataDir, path.resolve('/work', '.hub-data'));
    const f = resolveStartConfig({ port: 0, tlsPort: 0, wsPort: 0, wsPath: '/mqtt', host: '0.0.0.0', controlPort: 0, memory: true, allowAnonymous: true, dataDir: 'x' }, '/work');
    assert.deepEqual(f.listeners, { tcp: { port: 0, host: '0.0.0.0' }, tls: { port: 0, host: '0.0.0.0' }, ws: { port: 0, path: '/mqtt', host: '0.0.0.0' } });
    assert.deepEqual([f.control, f.memory, f.allowAnonymous, f.dataDir], [{ port: 0 }, true, true, '/work/x']);
    const tlsOnly = resolveStartConfig({ tcp: false, tlsPort: 8883 }, '/work');
    assert.deepEqual(Object.keys(tlsOnly.listeners), ['tls']);
    assert.throws(() => resolveStartConfig({ tcp: false }, '/work'), /no MQTT listener is configured/);
    assert.throws(() => resolveStartConfig({ controlHost: '0.0.0.0' }, '/work'), /--control-host: needs the control API/);
  });
});
