// The `host-broker` command: run the hub (`start`, the default), manage its
// device registry (`devices ...`, cli-devices.ts), a running hub's routes
// (`routes ...`, cli-routes.ts) and bridges (`bridges ...`).
// Logs: see log.ts (readable on a terminal, journal lines under systemd, JSON otherwise).
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkPort, ConfigError, HubConfig, loadConfigFile, LOG_LEVELS, serverNames, validateConfig } from './config';
import { addBackupCommands } from './cli-backup';
import { addDevicesCommands } from './cli-devices';
import { addRoutesCommands } from './cli-routes';
import { addServiceCommands } from './cli-service';
import { createHubLogger, LOG_FORMATS, type LogFormat, stdoutIsJournal } from './log';
import { resetStoredToken, TOKEN_FILE } from './control/auth';
import { TOKEN_ENV } from './control/http-client';
import { addBridgesCommands } from './cli-bridges';
import { DEFAULT_CONTROL_PORT, DEFAULT_DATA_DIR, DEFAULT_HOST, startHub } from './start-hub';

function portArg(v: string): number {
  const n = Number(v);
  try { return checkPort(Number.isInteger(n) ? n : v, 'port'); } catch (err: any) { throw new InvalidArgumentError(err.message.replace(/^port: /, '')); }
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
    .addOption(new Option('--control-port [n]', `HIL control HTTP JSON API port, ${DEFAULT_CONTROL_PORT} if the flag has no value (off unless given); \`routes\` and \`bridges\` commands use it; see host-broker/control/README.md`)
      .preset(String(DEFAULT_CONTROL_PORT)).argParser(portArg))
    .option('--control-host <addr>', `bind address of the control API and console (default ${DEFAULT_HOST})`)
    .option('--no-control-auth', 'no token for the control API and console (allowed only on a loopback --control-host; by default the hub makes a token at first start and prints it once)')
    .option('--host <addr>', `bind address of the MQTT listeners (default ${DEFAULT_HOST})`)
    .option('--data-dir <dir>', `data directory: SQLite store, device registry, hub CA (default ./${DEFAULT_DATA_DIR})`)
    .option('--config <file>', 'JSON config: listeners, control, devices, filters, limits, events, routes, bridges, log, metrics, authThrottle (flags override it); every field: docs/config.md')
    .option('--memory', 'keep sessions, queued and retained messages in memory only (lost on exit); devices and the CA stay in the data dir')
    .option('--allow-anonymous', 'let clients without credentials connect (off by default)')
    .addOption(new Option('--log-level <level>', 'log level (default info)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'auto (default): journal lines under systemd, readable lines on a terminal, JSON otherwise').choices(LOG_FORMATS))
    .option('--log-file <file>', 'log to this file instead of stdout, rotated by size (log.maxSize, log.maxFiles in the config)')
    .action(async (flags: StartFlags) => { await runStart(flags); });

  addDevicesCommands(program);

  const dataDirOpt = () => new Option('--data-dir <dir>', `data directory (default ./${DEFAULT_DATA_DIR})`);
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
  addBridgesCommands(program);
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
