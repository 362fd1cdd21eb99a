// Our host broker alone in a process, for the bench: in-memory store, no hooks,
// limits raised so the growth bench can connect thousands of clients, and the
// per-client window and queue set as Mosquitto's are in the bench (peers.ts
// MOSQUITTO_CONF: max_inflight_messages 20, max_queued_messages 100000), so that
// neither broker drops a subscriber's messages at a bound the other does not have.
// Prints "PORT <n>" once listening. SIGTERM closes it and exits normally, so
// that `node --cpu-prof` writes its profile.
import { Broker } from '../../host-broker';
import { brokerProcess } from './process-main';

brokerProcess(async (port) => {
  const broker = new Broker({ limits: { maxConnections: 20000, maxInflightPerClient: 20, maxQueuedPerClient: 100000 } });
  const got = await broker.listen({ tcp: { port, host: '127.0.0.1' } });
  return { port: got.tcp!, close: () => broker.close() };
});
