// The host broker for the tools and the HIL runner, in this process: anonymous
// clients allowed, the HIL control API on, data in a private temp directory
// (SQLite when `persistent`, so a restart keeps sessions; memory otherwise).
// restart() stops the whole hub and starts it again on the same ports. The
// control API (and console) take a fresh random token, which `control` sends.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { validateConfig } from '../../host-broker/config';
import { RunningHub, startHub } from '../../host-broker/start-hub';
import { ControlClient } from '../../host-broker/control/http-client';
import { newToken } from '../../host-broker/control/auth';

export interface HubOptions {
  /** Sessions and queued messages in SQLite (they survive restart()); default false (memory). */
  persistent?: boolean;
  /** MQTT TCP port; default 0 (any free port). */
  port?: number;
  host?: string;
  /** Control API / console port; default 0 (any free port). */
  controlPort?: number;
  /** Control token; default a new random one. */
  token?: string;
}

export interface LocalHub {
  readonly port: number;
  readonly url: string;
  readonly controlUrl: string;
  /** The token the control API and console take. */
  readonly token: string;
  readonly control: ControlClient;
  readonly running: RunningHub;
  /** Stops the hub (sockets dropped, no Wills: the hub itself goes away) and starts it again on the same ports and data. */
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalHub(opts: HubOptions = {}): Promise<LocalHub> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-'));
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? newToken();
  const start = (port: number, controlPort: number) => startHub(validateConfig({
    listeners: { tcp: { port, host } },
    control: { port: controlPort, host: '127.0.0.1', token },
    dataDir,
    memory: !opts.persistent,
    allowAnonymous: true,
    events: { enabled: false },
  }));
  let running: RunningHub;
  try {
    running = await start(opts.port ?? 0, opts.controlPort ?? 0);
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const port = running.ports.tcp!;
  const controlPort = running.ports.control!;
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  let closed = false;
  return {
    port,
    url: `mqtt://${host}:${port}`,
    controlUrl,
    token,
    control: new ControlClient(controlUrl, { token }),
    get running() { return running; },
    async restart(downMs = 0) {
      await running.close();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      running = await start(port, controlPort);
    },
    async close() {
      if (closed) return;
      closed = true;
      await running.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
