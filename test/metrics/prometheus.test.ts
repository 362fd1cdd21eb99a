// GET /metrics on the control listener: what a Prometheus scrape sees after
// real traffic from MQTT.js clients against a whole hub (startHub).
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import mqtt, { MqttClient } from 'mqtt';
import { validateConfig } from '../../host-broker/config';
import { RunningHub, startHub } from '../../host-broker/start-hub';
import { parseMetrics, suback, until } from './support';

/** The control API's token: a Prometheus scrape sends it as a bearer token. */
const TOKEN = 'metrics-test-token';
const auth = { headers: { authorization: `Bearer ${TOKEN}` } };

async function scrape(hub: RunningHub): Promise<{ status: number; type: string | null; values: Map<string, number> }> {
  const res = await fetch(`http://127.0.0.1:${hub.ports.control}/metrics`, auth);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), values: parseMetrics(text) };
}

describe('metrics: Prometheus on the control listener', function () {
  this.timeout(30000);
  let dir: string;
  let hub: RunningHub | undefined;
  const clients: MqttClient[] = [];
  const connect = async (opts: mqtt.IClientOptions) => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub!.ports.tcp}`, { reconnectPeriod: 0, ...opts });
    clients.push(c);
    return c;
  };

  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-metrics-')); });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await hub?.close();
    hub = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('connections, messages per QoS, bytes, queue depths, in flight, route backlog, commit latency, events by kind, process memory', async () => {
    hub = await startHub(validateConfig({
      listeners: { tcp: { port: 0 } }, control: { port: 0, token: TOKEN }, dataDir: dir, allowAnonymous: true,
      metrics: { sysInterval: 0 },
      // A target that never answers: what the route queues stays in its backlog.
      routes: [{ name: 'api', type: 'rest', filter: 't/#', uri: 'http://127.0.0.1:1/never', delivery: { backoff: { initialMs: 60000, maxMs: 60000 } } }],
    }));
    const before = await scrape(hub);
    assert.equal(before.status, 200);
    assert.match(before.type!, /^text\/plain; version=0\.0\.4/);
    assert.equal(before.values.get('hub_info{version="0.1.0"}'), 1);

    const sub = await connect({ clientId: 'sub', clean: false });
    await sub.subscribeAsync('t/#', { qos: 1 });
    await sub.endAsync();
    const pub = await connect({ clientId: 'pub' });
    for (let i = 0; i < 5; i++) await pub.publishAsync('t/x', `m${i}`, { qos: 1 });
    for (let i = 0; i < 3; i++) await pub.publishAsync('t/x', 'zero', { qos: 0 });
    // A refused subscription raises an unauthorized_topic event ($SYS is for devices granted it).
    assert.deepEqual(await suback(pub, '$SYS/#'), [128]);

    await until('the route backlog', async () => (await scrape(hub!)).values.get('hub_backlog_messages{kind="route",name="api"}') === 8);
    const m = (await scrape(hub)).values;
    assert.equal(m.get('hub_messages_received_total{qos="1"}'), 5);
    assert.equal(m.get('hub_messages_received_total{qos="0"}'), 3);
    assert.equal(m.get('hub_message_bytes_received_total'), 5 * 2 + 3 * 4);
    assert.equal(m.get('hub_clients_connected{listener="tcp"}'), 1);
    assert.equal(m.get('hub_sockets_open'), 1);
    assert.equal(m.get('hub_connections_accepted_total'), 2);
    assert.equal(m.get('hub_sessions'), 2);
    assert.equal(m.get('hub_sessions_offline'), 1);
    assert.equal(m.get('hub_subscriptions'), 1);
    assert.equal(m.get('hub_queued_messages'), 5, 'QoS 1 messages wait for the offline persistent session; QoS 0 ones do not');
    assert.equal(m.get('hub_queued_messages_max'), 5);
    assert.equal(m.get('hub_inflight_messages'), 0);
    assert.equal(m.get('hub_outbound_bytes'), 10);
    assert.equal(m.get('hub_dead_letters{kind="route",name="api"}'), 0);
    assert.equal(m.get('hub_events_total{kind="unauthorized_topic",severity="warning"}'), 1);
    assert.ok(m.get('hub_store_commit_seconds_count')! >= 5, 'every acknowledged QoS 1 message is a durable commit');
    assert.ok(m.get('hub_store_commit_seconds_sum')! > 0);
    assert.ok(m.get('hub_bytes_received_total')! > 100 && m.get('hub_bytes_sent_total')! > 10);
    assert.ok(m.get('process_resident_memory_bytes')! > 10e6);
    assert.ok(m.get('nodejs_heap_size_used_bytes')! > 1e6);

    // The subscriber comes back for its messages: sent by QoS, queue drained.
    let got = 0;
    const back = mqtt.connect(`mqtt://127.0.0.1:${hub.ports.tcp}`, { clientId: 'sub', clean: false, reconnectPeriod: 0 });
    clients.push(back);
    back.on('message', () => { got++; });
    await until('5 deliveries', () => got === 5);
    await until('the acknowledgements', async () => (await scrape(hub!)).values.get('hub_inflight_messages') === 0);
    const after = (await scrape(hub)).values;
    assert.equal(after.get('hub_messages_sent_total{qos="1"}'), 5);
    assert.equal(after.get('hub_queued_messages'), 0);
    assert.equal(after.get('hub_outbound_bytes'), 0);
    assert.equal(after.get('hub_sessions_offline'), 0);
    assert.equal(after.get('hub_clients_connected{listener="tcp"}'), 2);
  });

  it('counts deliveries dropped because a queue was full', async () => {
    hub = await startHub(validateConfig({
      listeners: { tcp: { port: 0 } }, control: { port: 0, token: TOKEN }, dataDir: dir, allowAnonymous: true, metrics: { sysInterval: 0 },
      limits: { maxQueuedPerClient: 2 },
    }));
    const sub = await connect({ clientId: 'slow', clean: false });
    await sub.subscribeAsync('q', { qos: 1 });
    await sub.endAsync();
    const pub = await connect({ clientId: 'p' });
    for (let i = 0; i < 5; i++) await pub.publishAsync('q', 'x', { qos: 1 });
    const m = (await scrape(hub)).values;
    assert.equal(m.get('hub_messages_dropped_total{reason="queue_full"}'), 3);
    assert.equal(m.get('hub_queued_messages'), 2);
    assert.equal(m.get('hub_events_total{kind="offline_queue_overflow",severity="warning"}'), 1);
  });

  it('metrics.prometheus false: no /metrics; the JSON endpoints stay', async () => {
    hub = await startHub(validateConfig({ listeners: { tcp: { port: 0 } }, control: { port: 0, token: TOKEN }, dataDir: dir, metrics: { prometheus: false, sysInterval: 0 } }));
    assert.equal((await scrape(hub)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${hub.ports.control}/health`, auth)).status, 200);
  });

  it('metrics config is validated, naming the field', () => {
    assert.throws(() => validateConfig({ metrics: { prometheus: 'yes' } }), /^ConfigError: metrics\.prometheus: expected true or false/);
    assert.throws(() => validateConfig({ metrics: { sysInterval: -1 } }), /^ConfigError: metrics\.sysInterval: expected an integer 0\.\.86400/);
    assert.throws(() => validateConfig({ metrics: { port: 9100 } }), /^ConfigError: metrics\.port: unknown field/);
  });
});
