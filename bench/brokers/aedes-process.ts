// Aedes (npm) alone in a process, for the bench: its defaults (in-memory
// persistence), a plain TCP server on 127.0.0.1. Prints "PORT <n>" once listening.
// Aedes 1.x is an ES module; Node 20.19+ can require() it.
import * as net from 'net';
import { brokerProcess } from './process-main';

brokerProcess(async (port) => {
  const { Aedes } = require('aedes');
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(); broker.close(() => resolve()); }),
  };
});
