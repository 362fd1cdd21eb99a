// Aedes (npm) alone in a process, for the bench: its defaults (in-memory
// persistence), a plain TCP server on 127.0.0.1. Prints "PORT <n>" once listening.
// Aedes 1.x is an ES module; Node 20.19+ can require() it.
import * as net from 'net';

async function main(): Promise<void> {
  const { Aedes } = require('aedes');
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
    process.stdout.write(`PORT ${(server.address() as net.AddressInfo).port}\n`);
  });
  const stop = () => {
    server.close();
    broker.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
