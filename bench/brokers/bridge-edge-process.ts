// Our hub as an edge gateway for the bridge bench: the bench broker (ours-process.ts
// limits) plus one bridge to the upstream Mosquitto carrying the load's topics
// out at QoS 1, 20 in flight (as the Mosquitto edge's bridge: MOSQUITTO_BRIDGE_CONF).
//   argv: <port> --upstream <port> [--sqlite <dir>]
//   --sqlite <dir>: a durable hub: the bridge queue is in hub.db, written in the
//   same commit as the message (synchronous=FULL) before the device's PUBACK.
// Prints "PORT <n>" once listening and its bridge is connected. Runs compiled
// (bin/build-host.cjs), as ours-process.ts does.
import { BridgeManager } from '../../host-broker/bridges/manager';
import { Broker } from '../../host-broker';
import { SqliteStore } from '../../host-broker/store/sqlite';
import { BRIDGED_TOPICS } from './bridge-topics';
import { brokerProcess } from './process-main';

const arg = (name: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const sqliteDir = arg('--sqlite');
const upstream = Number(arg('--upstream'));

brokerProcess(async (port) => {
  const limits = { maxConnections: 20000, maxInflightPerClient: 20, maxQueuedPerClient: 100000 };
  const broker = sqliteDir ? new Broker({ store: new SqliteStore({ dataDir: sqliteDir }), limits }) : new Broker({ limits });
  const bridges = new BridgeManager({ broker, bridges: [{
    name: 'bench', url: `mqtt://127.0.0.1:${upstream}`, clientId: `bench-edge-${process.pid}`, cleanSession: true, maxInflight: 20,
    mappings: BRIDGED_TOPICS.map((filter) => ({ direction: 'out', filter, qos: 1 })),
  }] });
  broker.addHooks(bridges.hooks);
  bridges.start();
  for (let t = Date.now(); bridges.get('bench')!.state !== 'connected'; await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - t > 10_000) throw new Error(`bridge not connected to 127.0.0.1:${upstream}: ${bridges.get('bench')!.stats.lastError}`);
  }
  const got = await broker.listen({ tcp: { port, host: '127.0.0.1' } });
  return { port: got.tcp!, close: async () => { await bridges.close(); await broker.close(); } };
});
