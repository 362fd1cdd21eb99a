// The life of one bench broker process: start it on the port given as argv[2]
// (0 = any), print "PORT <n>" once it listens, and on SIGTERM/SIGINT close it and
// exit normally (so that `node --cpu-prof` writes its profile), by force after 3 s.
export function brokerProcess(start: (port: number) => Promise<{ port: number; close: () => Promise<unknown> }>): void {
  start(Number(process.argv[2] ?? 0)).then(({ port, close }) => {
    process.stdout.write(`PORT ${port}\n`);
    const stop = () => {
      close().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 3000).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
