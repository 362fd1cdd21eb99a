// `host-broker service install|uninstall`: the hub as a systemd service, the way
// Debian packages Mosquitto. A dedicated system user (systemd-sysusers), its data
// in /var/lib/<name> (StateDirectory), its config in /etc/<name>/hub.json, logs to
// the journal (log.ts writes priorities systemd reads), restart on failure, and
// the sandbox systemd offers: nothing of the file system writable but the data
// dir, no new privileges, no devices, no home directories.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { type HubConfig, loadConfigFile, validateConfig } from './config';
import { DEFAULT_LIMITS } from './broker';
import { FD_RESERVE } from './fd-limit';
import { packageRoot } from './package-root';

export const DEFAULT_SERVICE_NAME = 'host-broker';
/** The first line of every unit this command writes; uninstall removes only such units. */
export const UNIT_MARK = '# Written by `host-broker service install`';

export interface ServiceOptions {
  /** Unit name, system user and the directories under /etc and /var/lib. */
  name: string;
  user: string;
  configFile: string;
  dataDir: string;
  /** The node binary and the host-broker entry point the unit runs. */
  node: string;
  bin: string;
}

export function defaultServiceOptions(name = DEFAULT_SERVICE_NAME): ServiceOptions {
  return {
    name, user: name, configFile: `/etc/${name}/hub.json`, dataDir: `/var/lib/${name}`,
    node: process.execPath, bin: path.join(packageRoot(), 'bin', 'host-broker.cjs'),
  };
}


/**
 * What bin/host-broker.cjs's first line sets (env -S ... node --max-semi-space-size=4),
 * for a unit that starts node itself: test/cli/build.test.ts keeps the two alike.
 */
export const RUNTIME_ENVIRONMENT = ['MALLOC_MMAP_THRESHOLD_=131072', 'NODE_OPTIONS=--max-semi-space-size=4'];
const NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;
/** Hidden from the service by ProtectHome=yes (and, on Raspberry Pi OS, mode 0700). */
const HOME_DIRS = ['/home', '/root', '/run/user'];

function under(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir + '/');
}

/** Checks the options, naming the option and what was expected. */
export function checkServiceOptions(o: ServiceOptions): void {
  if (!NAME_RE.test(o.name)) throw new Error(`--name: expected 1-31 of a-z 0-9 - starting with a letter, got ${JSON.stringify(o.name)}`);
  if (!NAME_RE.test(o.user)) throw new Error(`--user: expected a system user name (a-z 0-9 -, starting with a letter), got ${JSON.stringify(o.user)}`);
  const paths: [string, string][] = [['--config', o.configFile], ['--data-dir', o.dataDir], ['node', o.node], ['host-broker', o.bin]];
  for (const [what, p] of paths) {
    if (!path.isAbsolute(p)) throw new Error(`${what}: expected an absolute path, got ${JSON.stringify(p)}`);
    const home = HOME_DIRS.find((d) => under(p, d));
    if (home) {
      throw new Error(`${what} ${p} is under ${home}, which the service cannot read (ProtectHome=yes, and home directories are private): `
        + (what === 'node' || what === 'host-broker'
          ? 'install Node system-wide (NodeSource or Debian package, not nvm) and the hub under /opt (see docs/raspberry-pi.md)'
          : 'choose a path under /etc, /var/lib or /opt'));
    }
  }
}

/** One ExecStart argument, quoted and escaped as systemd.service(5) and systemd.unit(5) specifiers require. */
export function execArg(s: string): string {
  const escaped = s.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /[\s"'\\;]/.test(escaped) ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped;
}

/** Splits an ExecStart line back into its arguments (what systemd does), for tests and --print users. */
export function splitExecStart(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push((m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]).replace(/\$\$/g, '$').replace(/%%/g, '%'));
  return out;
}

/** The listener ports of a config, to know whether the service needs CAP_NET_BIND_SERVICE. */
function ports(cfg: HubConfig): number[] {
  const l = cfg.listeners;
  return [l.tcp?.port, l.tls?.port, l.ws?.port, cfg.control?.port].filter((p): p is number => p !== undefined);
}

/** The systemd unit for `o`, sized and sandboxed for `cfg`. */
export function renderUnit(o: ServiceOptions, cfg: HubConfig): string {
  checkServiceOptions(o);
  const maxConnections = cfg.limits.maxConnections ?? DEFAULT_LIMITS.maxConnections;
  const stateDir = o.dataDir === `/var/lib/${o.name}`;
  const logDir = cfg.log.file ? path.dirname(cfg.log.file) : undefined;
  const writable = [o.dataDir, ...(logDir ? [logDir] : [])];
  const privileged = ports(cfg).some((p) => p > 0 && p < 1024);
  const exec = [o.node, o.bin, 'start', '--config', o.configFile, '--data-dir', o.dataDir].map(execArg).join(' ');
  return `${UNIT_MARK} (espruino-mqtt-hub); \`host-broker service uninstall --name ${o.name}\` removes it.
# Edit ${o.configFile} for listeners, devices and limits, then: systemctl restart ${o.name}
# Run \`host-broker service install\` again after changing limits.maxConnections or listener ports:
# LimitNOFILE and the capabilities below are derived from them.
[Unit]
Description=MQTT hub for Espruino boards (host-broker${o.name === DEFAULT_SERVICE_NAME ? '' : `: ${o.name}`})
Documentation=file://${path.resolve(path.dirname(o.bin), '..', 'docs', 'raspberry-pi.md')}
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=60
StartLimitBurst=10

[Service]
Type=exec
User=${o.user}
Group=${o.user}
ExecStart=${exec}
WorkingDirectory=${o.dataDir}
${stateDir ? `StateDirectory=${o.name}\nStateDirectoryMode=0750\n` : ''}${o.configFile.startsWith(`/etc/${o.name}/`) ? `ConfigurationDirectory=${o.name}\n` : ''}Environment=NODE_ENV=production
# Memory tuning for a small host, as bin/host-broker.cjs's first line sets it (bin/README.md).
${RUNTIME_ENVIRONMENT.map((e) => `Environment=${e}`).join('\n')}
SyslogIdentifier=${o.name}
Restart=on-failure
RestartSec=2
TimeoutStopSec=20
# One descriptor per connection (limits.maxConnections = ${maxConnections}) plus ${FD_RESERVE} for databases, listeners and route targets.
LimitNOFILE=${maxConnections + FD_RESERVE}
UMask=0027

# Sandbox: ${logDir ? 'the data dir and the log dir are the only writable places' : 'the data dir is the only writable place'}.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${writable.join(' ')}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
${privileged ? '# A listener below port 1024 needs this one capability.\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE' : 'CapabilityBoundingSet='}

[Install]
WantedBy=multi-user.target
`;
}

/** systemd-sysusers(8) line for the service's user: a system user with no login shell, home in the data dir. */
export function renderSysusers(o: ServiceOptions): string {
  return `# Written by \`host-broker service install\`: the system user the ${o.name} service runs as.\nu ${o.user} - "MQTT hub (host-broker ${o.name})" ${o.dataDir}\n`;
}

/** A first config for a hub on a LAN: MQTT on every interface, the control API (and /metrics) on this machine only. */
export function starterConfig(): object {
  return {
    listeners: { tcp: { port: 1883, host: '0.0.0.0' } },
    control: { port: 8081, host: '127.0.0.1' },
    limits: { maxConnections: DEFAULT_LIMITS.maxConnections },
  };
}

export interface ServiceFiles { unit: string; sysusers: string; config: string }

/** Where the files go, under `root` ('/' for real, another directory for packaging and tests). */
export function serviceFiles(o: ServiceOptions, root: string): ServiceFiles {
  return {
    unit: path.join(root, 'etc', 'systemd', 'system', `${o.name}.service`),
    sysusers: path.join(root, 'etc', 'sysusers.d', `${o.name}.conf`),
    config: path.join(root, o.configFile),
  };
}

/** The config the unit will run with: the file if it exists (validated), else the starter config. */
export function serviceConfig(o: ServiceOptions, root: string): { cfg: HubConfig; exists: boolean } {
  const file = serviceFiles(o, root).config;
  if (fs.existsSync(file)) return { cfg: loadConfigFile(file), exists: true };
  return { cfg: validateConfig(starterConfig()), exists: false };
}

export type Runner = (cmd: string, args: string[]) => void;

export const runCommand: Runner = (cmd, args) => {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  } catch (err: any) {
    const stderr = err.stderr ? String(err.stderr).trim() : '';
    throw new Error(`${cmd} ${args.join(' ')} failed${stderr ? `: ${stderr}` : ` (${err.code ?? err.status})`}`, { cause: err });
  }
};

export interface InstallReport { files: string[]; commands: string[]; skipped: string[]; configCreated: boolean }

/**
 * Writes the sysusers snippet, the config (when there is none) and the unit under
 * `root`; on the real root also creates the user, reloads systemd and, with
 * `enable`, enables and starts the service.
 */
export function installService(o: ServiceOptions, opts: { root?: string; enable?: boolean; run?: Runner } = {}): InstallReport {
  const root = path.resolve(opts.root ?? '/');
  const real = root === '/';
  const run = opts.run ?? runCommand;
  if (real && process.getuid?.() !== 0) {
    throw new Error('service install writes /etc/systemd/system and creates a system user: run it as root (sudo), see the unit with --print, or write into a directory with --root');
  }
  const files = serviceFiles(o, root);
  const { cfg, exists } = serviceConfig(o, root);
  const unit = renderUnit(o, cfg);
  const report: InstallReport = { files: [], commands: [], skipped: [], configCreated: !exists };
  const write = (file: string, text: string, mode: number) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { mode });
    fs.chmodSync(file, mode);
    report.files.push(file);
  };
  write(files.sysusers, renderSysusers(o), 0o644);
  // The config may hold passwords and route credentials: readable by root and the service's group only.
  if (!exists) write(files.config, JSON.stringify(starterConfig(), null, 2) + '\n', 0o640);
  write(files.unit, unit, 0o644);
  const commands: [string, string[]][] = [
    ['systemd-sysusers', [path.join('/etc/sysusers.d', `${o.name}.conf`)]],
    ['systemctl', ['daemon-reload']],
    ...(opts.enable === false ? [] : [['systemctl', ['enable', '--now', `${o.name}.service`]] as [string, string[]]]),
  ];
  if (!real) {
    report.skipped = commands.map(([c, a]) => [c, ...a].join(' '));
    return report;
  }
  run(...commands[0]);
  report.commands.push(commands[0].flat().join(' '));
  // Created by systemd at start when it is the StateDirectory; otherwise made here, owned by the service.
  if (o.dataDir !== `/var/lib/${o.name}`) {
    fs.mkdirSync(o.dataDir, { recursive: true, mode: 0o750 });
    run('chown', [`${o.user}:${o.user}`, o.dataDir]);
  }
  if (cfg.log.file) {
    fs.mkdirSync(path.dirname(cfg.log.file), { recursive: true, mode: 0o750 });
    run('chown', [`${o.user}:${o.user}`, path.dirname(cfg.log.file)]);
  }
  run('chgrp', [o.user, files.config]);
  for (const c of commands.slice(1)) {
    run(...c);
    report.commands.push(c.flat().join(' '));
  }
  return report;
}

export interface UninstallReport { removed: string[]; commands: string[]; skipped: string[]; kept: string[] }

/** Stops and disables the service and removes its unit and sysusers snippet; keeps the config, the data and the user. */
export function uninstallService(o: ServiceOptions, opts: { root?: string; run?: Runner } = {}): UninstallReport {
  const root = path.resolve(opts.root ?? '/');
  const real = root === '/';
  const run = opts.run ?? runCommand;
  if (real && process.getuid?.() !== 0) throw new Error('service uninstall changes /etc/systemd/system: run it as root (sudo)');
  const files = serviceFiles(o, root);
  if (!fs.existsSync(files.unit)) throw new Error(`${files.unit}: no such unit; nothing to uninstall (is --name right?)`);
  if (!fs.readFileSync(files.unit, 'utf8').startsWith(UNIT_MARK)) {
    throw new Error(`${files.unit} was not written by \`host-broker service install\`; remove it by hand if you mean to`);
  }
  const report: UninstallReport = { removed: [], commands: [], skipped: [], kept: [o.configFile, o.dataDir, `user ${o.user}`] };
  const disable: [string, string[]] = ['systemctl', ['disable', '--now', `${o.name}.service`]];
  const reload: [string, string[]] = ['systemctl', ['daemon-reload']];
  if (real) { run(...disable); report.commands.push(disable.flat().join(' ')); } else report.skipped.push(disable.flat().join(' '));
  for (const f of [files.unit, files.sysusers]) {
    if (fs.existsSync(f)) { fs.rmSync(f); report.removed.push(f); }
  }
  if (real) { run(...reload); report.commands.push(reload.flat().join(' ')); } else report.skipped.push(reload.flat().join(' '));
  return report;
}
