// Our host broker alone in a process, for the bench: limits raised so the growth
// bench can connect thousands of clients, and the per-client window and queue
// set as Mosquitto's are in the bench (peers.ts MOSQUITTO_CONF:
// max_inflight_messages 20, max_queued_messages 100000), so that neither broker
// drops a subscriber's messages at a bound the other does not have.
//   argv: <port> [--sqlite <dir>]
//   --sqlite <dir>: the durable hub (SqliteStore in <dir>, synchronous=FULL) with
//   the per-client bounds lifted, as the bench's durable Mosquitto has them
//   (peers.ts MOSQUITTO_DURABLE_CONF: max_inflight_messages 0, max_queued_messages 0).
// Without it the store is in memory. Prints "PORT <n>" once listening. SIGTERM
// closes it and exits normally, so that `node --cpu-prof` writes its profile.
// The bench runs this compiled (build/, peers.ts), as the host-broker command runs.
import { Broker } from '../../host-broker';
import { SqliteStore } from '../../host-broker/store/sqlite';
import { brokerProcess } from './process-main';

const at = process.argv.indexOf('--sqlite');
const sqliteDir = at > 0 ? process.argv[at + 1] : undefined;

brokerProcess(async (port) => {
  const broker = sqliteDir
    ? new Broker({ store: new SqliteStore({ dataDir: sqliteDir }), limits: { maxConnections: 20000, maxInflightPerClient: 65535, maxQueuedPerClient: 10_000_000, maxQueuedBytesPerClient: 2 ** 40 } })
    : new Broker({ limits: { maxConnections: 20000, maxInflightPerClient: 20, maxQueuedPerClient: 100000 } });
  const got = await broker.listen({ tcp: { port, host: '127.0.0.1' } });
  return { port: got.tcp!, close: () => broker.close() };
});
