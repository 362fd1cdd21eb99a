// `host-broker devices ...`: manage the device registry of the hub the user
// means, and always say which one was changed:
// - the running hub, through its control API (changes apply at once: a disabled
//   or removed device is kicked), when one answers at --control, at the control
//   address of --config, or at the default address, and it runs on the data dir
//   asked for (if one was);
// - otherwise the data dir itself (--data-dir, the dataDir of --config, or
//   ./.hub-data); a hub running on it without a control API (its lock file says
//   whether one does) sees the change within a second.
// The control API takes the hub's token (--token or HOST_BROKER_TOKEN, through
// ControlClient). Passwords are hashed here: only the scrypt hash goes to the
// hub or the file.

import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, HubConfig, loadConfigFile } from './config';
import { ControlApiError, ControlClient, TOKEN_ENV } from './control/http-client';
import { DATA_FILES, dataDirInUse, openDataFile } from './data-dir';
import { DEFAULT_CONTROL_URL, DEFAULT_DATA_DIR, DEFAULT_HOST } from './defaults';
import { HubCA } from './security/ca';
import { Device, DeviceInput, DevicePatch, DeviceRegistry } from './security/device-registry';
import { hashPassword } from './security/password';
import { parseTopicPolicy, TopicPolicy } from './security/topic-policy';

/** Where `devices` commands read and write, and how to say so. */
export interface DeviceTarget {
  /** "the running hub at <url> (data dir <dir>)" or "the data dir <dir>" plus why. */
  readonly where: string;
  /** The data dir (the hub CA lives there), when it is on this machine. */
  readonly dataDir: string | undefined;
  list(): Promise<Device[]>;
  get(id: string): Promise<Device | undefined>;
  add(input: DeviceInput): Promise<Device>;
  update(id: string, patch: DevicePatch): Promise<Device>;
  setEnabled(id: string, enabled: boolean): Promise<{ kicked?: number }>;
  remove(id: string): Promise<{ kicked?: number }>;
  close(): void;
}

class HubTarget implements DeviceTarget {
  constructor(private api: ControlClient, readonly url: string, readonly dataDir: string | undefined) {}
  get where() { return `the running hub at ${this.url}${this.dataDir ? ` (data dir ${this.dataDir})` : ''}`; }
  list() { return this.api.devices(); }
  async get(id: string) {
    try { return await this.api.device(id); } catch (err) { if (err instanceof ControlApiError && err.status === 404) return undefined; throw err; }
  }
  add(input: DeviceInput) { return this.api.addDevice(input); }
  update(id: string, patch: DevicePatch) { return this.api.updateDevice(id, patch); }
  async setEnabled(id: string, enabled: boolean) { return enabled ? (await this.api.enableDevice(id), {}) : this.api.disableDevice(id); }
  remove(id: string) { return this.api.removeDevice(id); }
  close() {}
}

class DirTarget implements DeviceTarget {
  private reg: DeviceRegistry;
  private readonly why: string;
  constructor(readonly dataDir: string, why: string) {
    this.reg = openDataFile(path.join(dataDir, DATA_FILES.devices), () => new DeviceRegistry({ dataDir }));
    // The hub's lock says whether one runs here (then it reads the registry within a second).
    this.why = `${why}; ${dataDirInUse(dataDir) ? 'the hub running on it sees the change within a second' : 'no hub is running on it'}`;
  }
  get where() { return `the data dir ${this.dataDir} (${this.why})`; }
  async list() { return this.reg.list(); }
  async get(id: string) { return this.reg.get(id); }
  async add(input: DeviceInput) { return this.reg.add(input); }
  async update(id: string, patch: DevicePatch) { return this.reg.update(id, patch); }
  async setEnabled(id: string, enabled: boolean) { this.reg.setEnabled(id, enabled); return {}; }
  async remove(id: string) {
    if (!this.reg.remove(id)) throw new ConfigError('id', `device ${id} does not exist`);
    return {};
  }
  close() { this.reg.close(); }
}

export interface TargetFlags { dataDir?: string; config?: string; control?: string; token?: string }

/** The control API's URL from a config file's `control` section (a wildcard bind is reached on 127.0.0.1); none for port 0. */
function controlUrlOf(cfg: HubConfig): string | undefined {
  if (!cfg.control || cfg.control.port === 0) return undefined;
  let host = cfg.control.host ?? DEFAULT_HOST;
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${cfg.control.port}`;
}

const sameDir = (a: string, b: string) => {
  const real = (p: string) => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };
  return real(a) === real(b);
};

/**
 * Picks the hub or data dir `devices` commands act on. `defaultUrl`: where a hub's
 * control API is looked for when neither --control nor --config names one
 * (HOST_BROKER_CONTROL, else the default port).
 */
export async function resolveTarget(flags: TargetFlags, opts: { cwd?: string; defaultUrl?: string } = {}): Promise<{ target: DeviceTarget; config?: HubConfig }> {
  const cwd = opts.cwd ?? process.cwd();
  const config = flags.config ? loadConfigFile(path.resolve(cwd, flags.config)) : undefined;
  const wanted = flags.dataDir !== undefined ? path.resolve(cwd, flags.dataDir) : config?.dataDir;
  const probe = async (url: string) => {
    const api = new ControlClient(url, { token: flags.token });
    try { return { api, health: await api.health(2000) }; } catch (err: any) {
      if (err instanceof ControlApiError && err.status === 401) return { api, locked: err.message };
      if (err instanceof ControlApiError) throw err;
      return { api, error: String(err.code ?? err.message) };
    }
  };
  if (flags.control !== undefined) {
    const p = await probe(flags.control);
    if (p.locked) throw new Error(`the hub at ${flags.control} refused the control API call: ${p.locked}`);
    if (!p.health) throw new Error(`cannot reach the control API at ${flags.control} (${p.error}); start the hub with --control-port, or leave --control out to change a data dir`);
    if (wanted !== undefined && p.health.dataDir && !sameDir(p.health.dataDir, wanted)) {
      throw new ConfigError('--data-dir', `the hub at ${flags.control} runs on ${p.health.dataDir}, not ${wanted}; give one of them`);
    }
    return { target: new HubTarget(p.api, flags.control, p.health.dataDir), config };
  }
  const url = (config && controlUrlOf(config)) ?? opts.defaultUrl ?? DEFAULT_CONTROL_URL;
  const p = await probe(url);
  const dir = wanted ?? path.resolve(cwd, DEFAULT_DATA_DIR);
  if (p.health) {
    if (wanted === undefined || (p.health.dataDir !== undefined && sameDir(p.health.dataDir, wanted))) {
      return { target: new HubTarget(p.api, url, p.health.dataDir), config };
    }
    return { target: new DirTarget(dir, `the hub at ${url} runs on ${p.health.dataDir ?? 'another data dir'}`), config };
  }
  if (p.locked) {
    // A hub answers but cannot say which data dir it has without its token. With a data
    // dir asked for, that dir is changed directly (a hub running on it sees it anyway);
    // without one, the user means that hub.
    if (wanted === undefined) throw new Error(`a hub answers at ${url} but refused the control API call: ${p.locked}; or give --data-dir to change a data dir directly`);
    return { target: new DirTarget(dir, `the hub at ${url} did not accept the token, so its data dir is unknown`), config };
  }
  return { target: new DirTarget(dir, `no hub answered at ${url}`), config };
}

const collect = (v: string, prev: string[] = []) => prev.concat(v);

function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    return n;
  };
}

function policyFrom(accept: string[] | undefined, reject: string[] | undefined, field: string): TopicPolicy | undefined {
  if (!accept && !reject) return undefined;
  return parseTopicPolicy({ ...(accept ? { accept } : {}), ...(reject ? { reject } : {}) }, field);
}

export function describeDevice(d: Device): string {
  const auth = [d.username ? `username ${d.username}${d.hasPassword ? ' + password' : ''}` : '', d.certFingerprint ? 'pinned certificate' : `certificate CN=${d.certCN}`]
    .filter(Boolean).join(', ');
  const pol = (name: string, p?: TopicPolicy) => (p ? ` ${name}[${p.accept ? `accept ${p.accept.join(' ')}` : ''}${p.accept && p.reject ? '; ' : ''}${p.reject ? `reject ${p.reject.join(' ')}` : ''}]` : '');
  return `${d.id}\t${d.enabled ? 'enabled' : 'DISABLED'}\t${d.allowInsecure ? 'tcp+tls' : 'tls-only'}\t${auth}${pol('publish', d.publish)}${pol('subscribe', d.subscribe)}${d.name ? `\t"${d.name}"` : ''}`;
}

/** The password from --password or --password-stdin, hashed; never echoed in an error. */
function passwordHashFrom(o: { password?: string; passwordStdin?: boolean }, required: boolean): string | undefined {
  if (o.password !== undefined && o.passwordStdin) throw new ConfigError('--password', 'give --password or --password-stdin, not both');
  let pw = o.password;
  if (o.passwordStdin || (required && pw === undefined)) pw = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (pw === undefined) return undefined;
  if (pw === '') throw new ConfigError(o.password !== undefined ? '--password' : '--password-stdin', o.password !== undefined ? 'expected a non-empty password' : 'expected a password on stdin (or give --password)');
  return hashPassword(pw);
}

/** Runs one command against its target; prints what it did, then which hub or data dir it did it to. */
async function withTarget(o: TargetFlags & { json?: boolean }, verb: 'changed' | 'read', fn: (t: DeviceTarget, config?: HubConfig) => Promise<string | undefined>): Promise<void> {
  const { target, config } = await resolveTarget(o, { defaultUrl: process.env.HOST_BROKER_CONTROL });
  try {
    const out = await fn(target, config);
    if (out !== undefined) console.log(out);
    // With --json, stdout holds only JSON.
    (o.json ? console.error : console.log)(`${verb}: ${target.where}`);
  } finally {
    target.close();
  }
}

/** A note when the device is declared in the --config file: the file wins at the next start. */
function declaredNote(config: HubConfig | undefined, file: string | undefined, id: string): string {
  return config && file && config.devices.some((d) => d.id === id) ? `\nnote: ${id} is declared in ${file}; the fields given there are set again at every start` : '';
}

export function addDevicesCommands(program: Command): void {
  const devices = program.command('devices')
    .description(`manage the device registry of the running hub (through its control API: changes apply at once) or of a data dir (<data-dir>/devices.db); every command says which one it changed. It uses the hub answering at --control, at the control address of --config, or at ${DEFAULT_CONTROL_URL} (HOST_BROKER_CONTROL), when that hub runs on the data dir asked for; otherwise the data dir`);
  const targetOpts = (c: Command) => c
    .addOption(new Option('--data-dir <dir>', `data directory (default: the --config file's dataDir, the running hub's, or ./${DEFAULT_DATA_DIR})`))
    .addOption(new Option('--config <file>', 'the hub\'s config file: its data dir and control API'))
    .addOption(new Option('--control <url>', 'the control API of the running hub to change (an error if it does not answer)'))
    .addOption(new Option('--token <token>', `the hub's control token (printed at its first start; or ${TOKEN_ENV})`));

  targetOpts(devices.command('add <id>')
    .description('register a device (id: letters, digits, . _ -; it is also the CN of its certificate)'))
    .option('--name <name>', 'a human name')
    .option('--username <name>', 'MQTT username for password login')
    .option('--password <pw>', 'password (stored as a scrypt hash); visible in the process list, prefer --password-stdin')
    .option('--password-stdin', 'read the password from stdin')
    .option('--require-tls', 'allowInsecure: false — accept this device only over TLS with its client certificate')
    .option('--disabled', 'add it disabled')
    .option('--publish-accept <filter>', 'may publish only to topics matching this filter (repeatable)', collect)
    .option('--publish-reject <filter>', 'may not publish to topics matching this filter (repeatable)', collect)
    .option('--subscribe-accept <filter>', 'may subscribe only within this filter (repeatable); $hub topics such as \'$hub/events/#\' are read only when named here', collect)
    .option('--subscribe-reject <filter>', 'never receives messages on topics matching this filter; subscribing within it gets SUBACK 0x80 (repeatable)', collect)
    .option('--json', 'print the device as JSON')
    .action(async (id: string, o: any) => {
      const input: DeviceInput = { id, allowInsecure: !o.requireTls, enabled: !o.disabled };
      if (o.name !== undefined) input.name = o.name;
      if (o.username !== undefined) input.username = o.username;
      const hash = passwordHashFrom(o, false);
      if (hash) input.passwordHash = hash;
      const pub = policyFrom(o.publishAccept, o.publishReject, 'publish');
      const sub = policyFrom(o.subscribeAccept, o.subscribeReject, 'subscribe');
      if (pub) input.publish = pub;
      if (sub) input.subscribe = sub;
      await withTarget(o, 'changed', async (t, config) => {
        const d = await t.add(input);
        return (o.json ? JSON.stringify(d) : `added ${describeDevice(d)}`) + declaredNote(config, o.config, id);
      });
    });

  targetOpts(devices.command('passwd <id>')
    .description('set a device\'s password (from --password-stdin, --password, or stdin when neither is given)'))
    .option('--password <pw>', 'the new password; visible in the process list, prefer --password-stdin')
    .option('--password-stdin', 'read the new password from stdin')
    .option('--username <name>', 'also set its MQTT user name (a device with a password needs one)')
    .action(async (id: string, o: any) => {
      const patch: DevicePatch = { passwordHash: passwordHashFrom(o, true)! };
      if (o.username !== undefined) patch.username = o.username;
      await withTarget(o, 'changed', async (t, config) => {
        const d = await t.update(id, patch);
        return `password of ${d.id} (username ${d.username}) set; clients already connected stay until they reconnect${declaredNote(config, o.config, id)}`;
      });
    });

  targetOpts(devices.command('list')
    .description('list registered devices (id, state, transports, credentials, policies)'))
    .option('--json', 'print a JSON array')
    .action(async (o: any) => {
      await withTarget(o, 'read', async (t) => {
        const list = await t.list();
        if (o.json) return JSON.stringify(list, null, 2);
        return list.length === 0 ? 'no devices' : list.map(describeDevice).join('\n');
      });
    });

  for (const [name, enabled] of [['disable', false], ['enable', true]] as const) {
    targetOpts(devices.command(`${name} <id>`)
      .description(enabled ? 'allow a disabled device to connect again'
        : 'refuse a device from now on (CONNACK 5, hub event device_disabled); its connected clients are kicked (through a running hub at once, else within a second)'))
      .action(async (id: string, o: any) => {
        await withTarget(o, 'changed', async (t, config) => {
          const r = await t.setEnabled(id, enabled);
          return `${id} ${enabled ? 'enabled' : 'disabled'}${r.kicked ? ` (${r.kicked} connected client${r.kicked === 1 ? '' : 's'} kicked)` : ''}${declaredNote(config, o.config, id)}`;
        });
      });
  }

  targetOpts(devices.command('remove <id>')
    .description('delete a device from the registry (its connected clients are kicked)'))
    .action(async (id: string, o: any) => {
      await withTarget(o, 'changed', async (t, config) => {
        const r = await t.remove(id);
        return `${id} removed${r.kicked ? ` (${r.kicked} connected client${r.kicked === 1 ? '' : 's'} kicked)` : ''}${declaredNote(config, o.config, id)}`;
      });
    });

  targetOpts(devices.command('cert <id>')
    .description('issue a client certificate and key for a device from the hub CA (created in the data dir if missing); writes <id>.cert.pem, <id>.key.pem (mode 0600) and ca.cert.pem'))
    .option('--out <dir>', 'where to write the files (default: the current directory)')
    .addOption(new Option('--days <n>', 'validity in days (default 825)').argParser(intArg(1, 36500)))
    .option('--no-pin', 'do not pin this certificate\'s fingerprint in the registry (by default it is pinned, so earlier certificates of the device stop working)')
    .option('--json', 'print paths and fingerprint as JSON')
    .action(async (id: string, o: any) => {
      await withTarget(o, 'changed', async (t) => {
        if (!(await t.get(id))) throw new ConfigError('id', `device ${id} does not exist (add it first: host-broker devices add ${id})`);
        if (!t.dataDir || !fs.existsSync(t.dataDir)) throw new ConfigError('--data-dir', `the hub CA is in the hub's data dir, which is not on this machine (${t.where}); run this where the hub runs`);
        const ca = HubCA.loadOrCreate(t.dataDir);
        const issued = ca.issueDeviceCert(id, { days: o.days });
        const out = path.resolve(o.out ?? '.');
        fs.mkdirSync(out, { recursive: true });
        const files = { cert: path.join(out, `${id}.cert.pem`), key: path.join(out, `${id}.key.pem`), ca: path.join(out, 'ca.cert.pem') };
        fs.writeFileSync(files.key, issued.keyPem, { mode: 0o600 });
        fs.chmodSync(files.key, 0o600);
        fs.writeFileSync(files.cert, issued.certPem);
        fs.writeFileSync(files.ca, ca.certPem);
        if (o.pin) await t.update(id, { certFingerprint: issued.fingerprint256 });
        const info = { device: id, files, fingerprint256: issued.fingerprint256, notAfter: issued.notAfter.toISOString(), pinned: !!o.pin };
        return o.json ? JSON.stringify(info) : `wrote ${files.cert}\nwrote ${files.key}\nwrote ${files.ca}\nfingerprint ${issued.fingerprint256}${o.pin ? ' (pinned)' : ''}, valid until ${info.notAfter}`;
      });
    });
}
