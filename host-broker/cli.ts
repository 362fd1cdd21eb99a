// The `host-broker` command: run the hub (`start`, the default), manage its
// device registry (`devices ...`) and a running hub's routes (`routes ...`).
// Logs: see log.ts (readable on a terminal, journal lines under systemd, JSON otherwise).
import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkPort, ConfigError, HubConfig, loadConfigFile, LOG_LEVELS, serverNames, validateConfig } from './config';
import { HubCA } from './security/ca';
import { Device, DeviceInput, DeviceRegistry } from './security/device-registry';
import { parseTopicPolicy, TopicPolicy } from './security/topic-policy';
import { addBackupCommands } from './cli-backup';
import { addRoutesCommands } from './cli-routes';
import { addServiceCommands } from './cli-service';
import { DATA_FILES, openDataFile } from './data-dir';
import { createHubLogger, LOG_FORMATS, type LogFormat, stdoutIsJournal } from './log';
import { resetStoredToken, TOKEN_FILE } from './control/auth';
import { TOKEN_ENV } from './control/http-client';
import { DEFAULT_CONTROL_PORT, DEFAULT_DATA_DIR, DEFAULT_HOST, startHub } from './start-hub';

function portArg(v: string): number {
  const n = Number(v);
  try { return checkPort(Number.isInteger(n) ? n : v, 'port'); } catch (err: any) { throw new InvalidArgumentError(err.message.replace(/^port: /, '')); }
}

function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    return n;
  };
}

const collect = (v: string, prev: string[] = []) => prev.concat(v);

interface StartFlags {
  port?: number; tcp?: boolean; tlsPort?: number; tlsName?: string[]; wsPort?: number; wsPath?: string; controlPort?: number; controlHost?: string; controlAuth?: boolean;
  host?: string; dataDir?: string; config?: string; memory?: boolean; allowAnonymous?: boolean; logLevel?: string;
  logFormat?: LogFormat; logFile?: string;
}

/** Config file first, flags on top; then the defaults this help text promises. */
export function resolveStartConfig(flags: StartFlags, cwd = process.cwd()): HubConfig {
  const cfg = flags.config ? loadConfigFile(path.resolve(cwd, flags.config)) : validateConfig({});
  const host = flags.host;
  const l = cfg.listeners;
  if (flags.tcp === false) delete l.tcp;
  else if (flags.port !== undefined) l.tcp = { ...l.tcp, port: flags.port };
  else if (!l.tcp && !flags.config) l.tcp = { port: 1883 };
  if (flags.tlsPort !== undefined) l.tls = { ...l.tls, port: flags.tlsPort };
  if (flags.tlsName !== undefined) {
    if (!l.tls) throw new ConfigError('--tls-name', 'needs a TLS listener (--tls-port)');
    if (l.tls.keyFile) throw new ConfigError('--tls-name', 'names are for the certificate the hub CA issues; with listeners.tls.keyFile/certFile your certificate names the hub');
    l.tls.names = [...(l.tls.names ?? []), ...serverNames(flags.tlsName, '--tls-name')];
  }
  if (flags.wsPort !== undefined) l.ws = { ...l.ws, port: flags.wsPort };
  if (flags.wsPath !== undefined) {
    if (!l.ws) throw new ConfigError('--ws-path', 'needs a WebSocket listener (--ws-port)');
    l.ws.path = flags.wsPath;
  }
  if (host !== undefined) for (const k of ['tcp', 'tls', 'ws'] as const) if (l[k]) l[k]!.host = host;
  if (flags.controlPort !== undefined) cfg.control = { ...cfg.control, port: flags.controlPort };
  if (flags.controlHost !== undefined) {
    if (!cfg.control) throw new ConfigError('--control-host', 'needs the control API (--control-port)');
    cfg.control.host = flags.controlHost;
  }
  if (flags.controlAuth === false) {
    if (!cfg.control) throw new ConfigError('--no-control-auth', 'needs the control API (--control-port)');
    delete cfg.control.token;
    delete cfg.control.tokenHash;
    cfg.control.auth = false;
  }
  if (flags.dataDir !== undefined) cfg.dataDir = path.resolve(cwd, flags.dataDir);
  if (cfg.dataDir === undefined) cfg.dataDir = path.resolve(cwd, DEFAULT_DATA_DIR);
  if (flags.memory) cfg.memory = true;
  if (flags.allowAnonymous) cfg.allowAnonymous = true;
  if (flags.logLevel !== undefined) cfg.log.level = flags.logLevel;
  if (flags.logFormat !== undefined) cfg.log.format = flags.logFormat;
  if (flags.logFile !== undefined) cfg.log.file = path.resolve(cwd, flags.logFile);
  if (cfg.log.format === 'journal' && cfg.log.file) throw new ConfigError('--log-format', '"journal" is for stdout under systemd; a log file gets "json" or "pretty"');
  if (!l.tcp && !l.tls && !l.ws) throw new ConfigError('listeners', 'no MQTT listener is configured (give --port, --tls-port or --ws-port)');
  return cfg;
}

async function runStart(flags: StartFlags): Promise<void> {
  const cfg = resolveStartConfig(flags);
  const logs = createHubLogger(cfg.log);
  const log = logs.logger;
  let hub: Awaited<ReturnType<typeof startHub>>;
  try {
    hub = await startHub(cfg, { logger: log });
  } catch (err) {
    await logs.close();
    throw err;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    hub.close().then(
      () => logs.close().then(() => process.exit(0)),
      (err) => { log.error({ err }, 'error while stopping'); void logs.close().then(() => process.exit(1)); });
  };
  // Before "listening": whoever waits for that line may signal at once.
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  log.info({ ports: hub.ports, dataDir: hub.dataDir, store: cfg.memory ? 'memory' : 'sqlite', allowAnonymous: !!cfg.allowAnonymous, devices: hub.registry.list().length,
    ...(hub.consoleUrl ? { console: hub.consoleUrl, controlAuth: cfg.control?.auth !== false } : {}) }, 'listening');
  // Not a log line: the token must not end up in log files, and this is the only time it is shown.
  if (hub.controlToken) process.stderr.write(tokenNotice(hub.controlToken, hub.controlTokenFile));
  if (hub.consoleUrl) process.stderr.write(`host-broker: console on ${hub.consoleUrl}\n`);
}

function tokenNotice(token: string, file?: string): string {
  return [
    '',
    'host-broker: the control API and console token (shown only this once: only its hash is kept' + (file ? `, in ${file}` : '') + '):',
    `  ${token}`,
    `  the console asks for it; the CLI and HIL tools read it from ${TOKEN_ENV}: export ${TOKEN_ENV}=${token}`,
    '  lost it? host-broker control-token reset (with the same --data-dir) makes a new one',
    '', '',
  ].join('\n');
}

function openRegistry(dataDir: string | undefined): DeviceRegistry {
  const dir = path.resolve(dataDir ?? DEFAULT_DATA_DIR);
  return openDataFile(path.join(dir, DATA_FILES.devices), () => new DeviceRegistry({ dataDir: dir }));
}

function policyFrom(accept: string[] | undefined, reject: string[] | undefined, field: string): TopicPolicy | undefined {
  if (!accept && !reject) return undefined;
  return parseTopicPolicy({ ...(accept ? { accept } : {}), ...(reject ? { reject } : {}) }, field);
}

function describe(d: Device): string {
  const auth = [d.username ? `username ${d.username}${d.hasPassword ? ' + password' : ''}` : '', d.certFingerprint ? 'pinned certificate' : `certificate CN=${d.certCN}`]
    .filter(Boolean).join(', ');
  const pol = (name: string, p?: TopicPolicy) => (p ? ` ${name}[${p.accept ? `accept ${p.accept.join(' ')}` : ''}${p.accept && p.reject ? '; ' : ''}${p.reject ? `reject ${p.reject.join(' ')}` : ''}]` : '');
  return `${d.id}\t${d.enabled ? 'enabled' : 'DISABLED'}\t${d.allowInsecure ? 'tcp+tls' : 'tls-only'}\t${auth}${pol('publish', d.publish)}${pol('subscribe', d.subscribe)}${d.name ? `\t"${d.name}"` : ''}`;
}

function readStdinPassword(): string {
  const text = fs.readFileSync(0, 'utf8');
  return text.replace(/\r?\n$/, '');
}

export function buildProgram(): Command {
  const program = new Command('host-broker')
    .description('MQTT 3.1.1 hub for Espruino boards: device security, hub events, persistence, HIL controls')
    .showHelpAfterError('(run with --help for usage)');

  program.command('start', { isDefault: true })
    .description('run the hub (the default command). With no flags: MQTT over TCP on 127.0.0.1:1883, data in ./.hub-data')
    .option('--port <n>', 'MQTT over TCP port (default 1883 unless a --config sets listeners; 0 = any free port)', portArg)
    .option('--no-tcp', 'no plain TCP listener (e.g. TLS only)')
    .option('--tls-port <n>', 'MQTT over TLS port (off unless given); mutual TLS with the hub CA in the data dir, which also issues the server certificate', portArg)
    .option('--tls-name <name>', 'a host name or address devices use to reach the hub over TLS, e.g. pi.local (repeatable); the hub CA\'s server certificate names it, with localhost, the host name and the listener\'s addresses (every interface for --host 0.0.0.0)', collect)
    .option('--ws-port <n>', 'MQTT over WebSocket port (off unless given)', portArg)
    .option('--ws-path <path>', 'accept WebSocket upgrades only on this URL path (default: any path)')
    .addOption(new Option('--control-port [n]', `HIL control HTTP JSON API port, ${DEFAULT_CONTROL_PORT} if the flag has no value (off unless given); \`routes\` commands use it; see host-broker/control/README.md`)
      .preset(String(DEFAULT_CONTROL_PORT)).argParser(portArg))
    .option('--control-host <addr>', `bind address of the control API and console (default ${DEFAULT_HOST})`)
    .option('--no-control-auth', 'no token for the control API and console (allowed only on a loopback --control-host; by default the hub makes a token at first start and prints it once)')
    .option('--host <addr>', `bind address of the MQTT listeners (default ${DEFAULT_HOST})`)
    .option('--data-dir <dir>', `data directory: SQLite store, device registry, hub CA (default ./${DEFAULT_DATA_DIR})`)
    .option('--config <file>', 'JSON config: listeners, control, devices, filters, limits, events, routes, log, metrics, authThrottle (flags override it); every field: docs/config.md')
    .option('--memory', 'keep sessions, queued and retained messages in memory only (lost on exit); devices and the CA stay in the data dir')
    .option('--allow-anonymous', 'let clients without credentials connect (off by default)')
    .addOption(new Option('--log-level <level>', 'log level (default info)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'auto (default): journal lines under systemd, readable lines on a terminal, JSON otherwise').choices(LOG_FORMATS))
    .option('--log-file <file>', 'log to this file instead of stdout, rotated by size (log.maxSize, log.maxFiles in the config)')
    .action(async (flags: StartFlags) => { await runStart(flags); });

  const devices = program.command('devices').description(`manage the device registry (<data-dir>/devices.db); a running hub on the same data dir picks changes up within a second`);
  const dataDirOpt = () => new Option('--data-dir <dir>', `data directory (default ./${DEFAULT_DATA_DIR})`);

  devices.command('add <id>')
    .description('register a device (id: letters, digits, . _ -; it is also the CN of its certificate)')
    .addOption(dataDirOpt())
    .option('--name <name>', 'a human name')
    .option('--username <name>', 'MQTT username for password login')
    .option('--password <pw>', 'password (stored as a scrypt hash); visible in the process list, prefer --password-stdin')
    .option('--password-stdin', 'read the password from stdin')
    .option('--require-tls', 'allowInsecure: false — accept this device only over TLS with its client certificate')
    .option('--disabled', 'add it disabled')
    .option('--publish-accept <filter>', 'may publish only to topics matching this filter (repeatable)', collect)
    .option('--publish-reject <filter>', 'may not publish to topics matching this filter (repeatable)', collect)
    .option('--subscribe-accept <filter>', 'may subscribe only within this filter (repeatable); $ topics such as \'$hub/events/#\' are read only when named here', collect)
    .option('--subscribe-reject <filter>', 'never receives messages on topics matching this filter; subscribing within it gets SUBACK 0x80 (repeatable)', collect)
    .option('--json', 'print the device as JSON')
    .action((id: string, o: any) => {
      if (o.password !== undefined && o.passwordStdin) throw new ConfigError('--password', 'give --password or --password-stdin, not both');
      const input: DeviceInput = { id, allowInsecure: !o.requireTls, enabled: !o.disabled };
      if (o.name !== undefined) input.name = o.name;
      if (o.username !== undefined) input.username = o.username;
      if (o.password !== undefined) input.password = o.password;
      if (o.passwordStdin) input.password = readStdinPassword();
      const pub = policyFrom(o.publishAccept, o.publishReject, 'publish');
      const sub = policyFrom(o.subscribeAccept, o.subscribeReject, 'subscribe');
      if (pub) input.publish = pub;
      if (sub) input.subscribe = sub;
      const reg = openRegistry(o.dataDir);
      try {
        const d = reg.add(input);
        console.log(o.json ? JSON.stringify(d) : `added ${describe(d)}`);
      } finally { reg.close(); }
    });

  devices.command('list')
    .description('list registered devices (id, state, transports, credentials, policies)')
    .addOption(dataDirOpt())
    .option('--json', 'print a JSON array')
    .action((o: any) => {
      const reg = openRegistry(o.dataDir);
      try {
        const list = reg.list();
        if (o.json) console.log(JSON.stringify(list, null, 2));
        else if (list.length === 0) console.log('no devices');
        else for (const d of list) console.log(describe(d));
      } finally { reg.close(); }
    });

  for (const [name, enabled] of [['disable', false], ['enable', true]] as const) {
    devices.command(`${name} <id>`)
      .description(enabled ? 'allow a disabled device to connect again'
        : 'refuse a device from now on (CONNACK 5, hub event device_disabled); a running hub on this data dir kicks it within a second')
      .addOption(dataDirOpt())
      .action((id: string, o: any) => {
        const reg = openRegistry(o.dataDir);
        try {
          reg.setEnabled(id, enabled);
          console.log(`${id} ${enabled ? 'enabled' : 'disabled'}`);
        } finally { reg.close(); }
      });
  }

  devices.command('remove <id>')
    .description('delete a device from the registry')
    .addOption(dataDirOpt())
    .action((id: string, o: any) => {
      const reg = openRegistry(o.dataDir);
      try {
        if (!reg.remove(id)) throw new ConfigError('id', `device ${id} does not exist`);
        console.log(`${id} removed`);
      } finally { reg.close(); }
    });

  devices.command('cert <id>')
    .description('issue a client certificate and key for a device from the hub CA (created in the data dir if missing); writes <id>.cert.pem, <id>.key.pem (mode 0600) and ca.cert.pem')
    .addOption(dataDirOpt())
    .option('--out <dir>', 'where to write the files (default: the current directory)')
    .addOption(new Option('--days <n>', 'validity in days (default 825)').argParser(intArg(1, 36500)))
    .option('--no-pin', 'do not pin this certificate\'s fingerprint in the registry (by default it is pinned, so earlier certificates of the device stop working)')
    .option('--json', 'print paths and fingerprint as JSON')
    .action((id: string, o: any) => {
      const dataDir = path.resolve(o.dataDir ?? DEFAULT_DATA_DIR);
      const reg = openRegistry(dataDir);
      try {
        if (!reg.get(id)) throw new ConfigError('id', `device ${id} does not exist (add it first: host-broker devices add ${id})`);
        const ca = HubCA.loadOrCreate(dataDir);
        const issued = ca.issueDeviceCert(id, { days: o.days });
        const out = path.resolve(o.out ?? '.');
        fs.mkdirSync(out, { recursive: true });
        const files = { cert: path.join(out, `${id}.cert.pem`), key: path.join(out, `${id}.key.pem`), ca: path.join(out, 'ca.cert.pem') };
        fs.writeFileSync(files.key, issued.keyPem, { mode: 0o600 });
        fs.chmodSync(files.key, 0o600);
        fs.writeFileSync(files.cert, issued.certPem);
        fs.writeFileSync(files.ca, ca.certPem);
        if (o.pin) reg.update(id, { certFingerprint: issued.fingerprint256 });
        const info = { device: id, files, fingerprint256: issued.fingerprint256, notAfter: issued.notAfter.toISOString(), pinned: !!o.pin };
        console.log(o.json ? JSON.stringify(info) : `wrote ${files.cert}\nwrote ${files.key}\nwrote ${files.ca}\nfingerprint ${issued.fingerprint256}${o.pin ? ' (pinned)' : ''}, valid until ${info.notAfter}`);
      } finally { reg.close(); }
    });

  program.command('control-token')
    .description('the control API and console token')
    .command('reset')
    .description(`make a new token, print it once and keep its hash in <data-dir>/${TOKEN_FILE}; a running hub on this data dir switches to it at once (earlier tokens and console sessions stop working). Not used when the config sets control.token or control.tokenHash`)
    .addOption(dataDirOpt())
    .action((o: any) => {
      const { token, file } = resetStoredToken(path.resolve(o.dataDir ?? DEFAULT_DATA_DIR));
      console.log(token);
      process.stderr.write(`host-broker: new token above; its hash is in ${file}\n`);
    });

  addRoutesCommands(program);
  addBackupCommands(program);
  addServiceCommands(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err: any) {
    // Under systemd the journal reads "<3>" as priority err, so `journalctl -p err` shows why the hub did not start.
    const priority = stdoutIsJournal(process.env, 2) ? '<3>' : '';
    process.stderr.write(`${priority}host-broker: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
