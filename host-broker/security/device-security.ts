// Device security as broker hooks: who may connect (credentials, client
// certificates, enabled flag, TLS requirement), what each device may publish
// and subscribe to, and kicking a device out when it is disabled.
import type { AuthResult, BrokerHooks, ClientInfo, ConnectRequest, HubEvent } from '../hooks';
import { Device, DeviceRegistry } from './device-registry';
import type { AuthFailureThrottle } from './auth-throttle';
import { hashPassword, verifyPasswordAsync } from './password';
import { HUB_TOPICS, policyAllowsDelivery, policyAllowsFilter, policyAllowsTopic, TopicPolicy } from './topic-policy';

/** The part of the broker this module uses. */
export interface KickTarget {
  disconnect(clientId: string, opts?: { abrupt?: boolean }): unknown;
}

export interface DeviceSecurityOptions {
  registry: DeviceRegistry;
  /** Let clients with no credentials in (as no device). Default false. */
  allowAnonymous?: boolean;
  /** Policies for anonymous clients and for devices that have none of their own. */
  defaults?: { publish?: TopicPolicy; subscribe?: TopicPolicy };
  /** Used to kick devices on disable; can also be set later with attach(). */
  broker?: KickTarget;
  /** Told of each failed login (wrong or missing credentials, bad certificate), to block guessing addresses. */
  throttle?: AuthFailureThrottle;
  /**
   * Filters of the hub's own topics, which a device reads only when an accept filter of
   * its policy names them. Default ['$hub/#']; start-hub adds the events prefix if it is elsewhere.
   */
  hubTopics?: string[];
  /** How often to look for registry changes made by another process (the CLI) and kick what they disabled; 0 = never. Default 1000 ms. */
  watchIntervalMs?: number;
}

type Refusal = Extract<AuthResult, { ok: false }>;

/** Remembered authorizeDelivery answers, all devices together, before the memo starts afresh. */
const DELIVERY_MEMO_ENTRIES = 100_000;

/** `deviceId`: the device the refusal is about, when one is known (its hub event is filed under it). */
function refuse(returnCode: 4 | 5, event: HubEvent['kind'], reason: string, deviceId?: string): Refusal {
  return deviceId === undefined ? { ok: false, returnCode, reason, event } : { ok: false, returnCode, reason, event, deviceId };
}

export class DeviceSecurity implements BrokerHooks {
  readonly registry: DeviceRegistry;
  allowAnonymous: boolean;
  private defaults: { publish?: TopicPolicy; subscribe?: TopicPolicy };
  private readonly hubTopics: readonly string[];
  private broker?: KickTarget;
  /** Connected clients by connection id, to find what to kick. */
  private readonly connected = new Map<number, ClientInfo>();
  private cache = new Map<string, Device | null>();
  private cacheRevision = '';
  /** authorizeDelivery answers by device id ('' = no device) and topic, for this registry revision. */
  private deliveryMemo = new Map<string, Map<string, boolean>>();
  private deliveryMemoSize = 0;
  /** Some hub topic does not start with '$' (a custom events prefix): no fast path for policy-less clients. */
  private readonly hubTopicsElsewhere: boolean;
  private watchTimer?: NodeJS.Timeout;
  private dummyHash?: string;
  private readonly throttle?: AuthFailureThrottle;

  constructor(opts: DeviceSecurityOptions) {
    this.registry = opts.registry;
    this.allowAnonymous = opts.allowAnonymous ?? false;
    this.defaults = opts.defaults ?? {};
    this.hubTopics = opts.hubTopics ?? HUB_TOPICS;
    this.hubTopicsElsewhere = this.hubTopics.some((f) => f.charCodeAt(0) !== 0x24);
    this.broker = opts.broker;
    this.throttle = opts.throttle;
    const every = opts.watchIntervalMs ?? 1000;
    if (every > 0) {
      let seen = this.registry.revision();
      this.watchTimer = setInterval(() => {
        const now = this.registry.revision();
        if (now !== seen) { seen = now; this.kickUnwelcome(); }
      }, every);
      this.watchTimer.unref();
    }
  }

  attach(broker: KickTarget): this {
    this.broker = broker;
    return this;
  }

  stop(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
  }

  async authenticate(req: ConnectRequest): Promise<AuthResult> {
    const result = await this.decide(req);
    if (!result.ok && result.event === 'authentication_failure' && this.throttle) this.throttle.recordFailure(req.client.remoteAddress);
    return result;
  }

  private async decide(req: ConnectRequest): Promise<AuthResult> {
    const result = await this.identify(req);
    if (!result.ok) return result;
    const owner = this.registry.get(req.clientId);
    // A client id that names a registered device is reserved for it: otherwise
    // anyone could take over (and kick) that device's session.
    if (owner && owner.id !== result.deviceId) {
      return refuse(5, 'authentication_failure', `client id "${req.clientId}" belongs to device ${owner.id}`, result.deviceId);
    }
    return result;
  }

  private async identify(req: ConnectRequest): Promise<AuthResult> {
    const tls = req.client.listener === 'tls' ? req.client.tls : undefined;
    let device: Device | undefined;
    let viaCert = false;

    if (tls && (tls.subjectCN || tls.fingerprint256)) {
      if (!tls.authorized) return refuse(5, 'authentication_failure', 'client certificate not issued by the hub CA');
      device = this.registry.findByCertificate(tls);
      if (!device) return refuse(5, 'authentication_failure', `client certificate CN=${tls.subjectCN ?? '?'} matches no registered device`);
      viaCert = true;
    }

    if (req.username !== undefined) {
      const byUser = this.registry.findByUsername(req.username);
      if (device) {
        if (byUser && byUser.id !== device.id) {
          return refuse(5, 'authentication_failure', `certificate of device ${device.id} used with the username of device ${byUser.id}`, device.id);
        }
        if (req.password !== undefined && device.hasPassword && !(await this.checkPassword(device, req.password))) {
          return refuse(4, 'authentication_failure', `wrong password for device ${device.id}`, device.id);
        }
      } else if (!byUser) {
        // With anonymous access on, a user name that belongs to no device is an anonymous
        // client that happens to send one (Mosquitto does the same): many clients always do.
        if (this.allowAnonymous) return this.anonymous();
        await this.checkPassword(undefined, req.password); // same cost as a known user: do not reveal which usernames exist
        return refuse(4, 'authentication_failure', `unknown username "${req.username}"`);
      } else if (!byUser.hasPassword) {
        if (!byUser.allowInsecure) return this.refuseInsecure(byUser);
        return refuse(4, 'authentication_failure', `device ${byUser.id} has no password; it authenticates with its certificate`, byUser.id);
      } else if (!(await this.checkPassword(byUser, req.password))) {
        return refuse(4, 'authentication_failure', `wrong password for device ${byUser.id}`, byUser.id);
      } else {
        device = byUser;
      }
    }

    if (!device) return this.anonymous();
    if (!device.enabled) return refuse(5, 'device_disabled', `device ${device.id} is disabled`, device.id);
    if (!device.allowInsecure && !viaCert) return this.refuseInsecure(device);
    return { ok: true, deviceId: device.id };
  }

  /** A client that is no device: in as anonymous if that is allowed. */
  private anonymous(): AuthResult {
    return this.allowAnonymous ? { ok: true } : refuse(5, 'authentication_failure', 'no credentials, and anonymous access is off');
  }

  private refuseInsecure(device: Device): Refusal {
    return refuse(5, 'tls_required', `device ${device.id} may only connect over TLS with its client certificate`, device.id);
  }

  private async checkPassword(device: Device | undefined, password: Buffer | undefined): Promise<boolean> {
    const stored = device ? this.registry.passwordHashOf(device.id) : this.dummy();
    const ok = await verifyPasswordAsync(password ?? Buffer.alloc(0), stored);
    return !!device && password !== undefined && ok;
  }

  private dummy(): string {
    if (!this.dummyHash) this.dummyHash = hashPassword('not-a-password');
    return this.dummyHash;
  }

  authorizePublish(client: ClientInfo, topic: string, _isWill: boolean): boolean {
    // '$' topics belong to the hub (hub events live there): no client may forge them.
    if (topic.charAt(0) === '$') return false;
    const policy = this.policyFor(client, 'publish');
    return policy !== false && policyAllowsTopic(policy, topic);
  }

  authorizeSubscribe(client: ClientInfo, filter: string): boolean {
    const policy = this.policyFor(client, 'subscribe');
    return policy !== false && policyAllowsFilter(policy, filter, this.hubTopics);
  }

  /**
   * Every message on its way to a client: a granted filter may overlap rejected topics
   * (see topic-policy.ts). Asked per delivery, so answers are remembered per device and
   * topic (devices publish to the same topics over and over) until the registry changes.
   */
  authorizeDelivery(client: ClientInfo, topic: string): boolean {
    const policy = this.policyFor(client, 'subscribe'); // also drops the memo when the registry changed
    if (policy === false) return false;
    if (policy === undefined && !this.hubTopicsElsewhere && topic.charCodeAt(0) !== 0x24) return true; // no policy, not a $ topic
    const owner = client.deviceId ?? '';
    let byTopic = this.deliveryMemo.get(owner);
    if (!byTopic) this.deliveryMemo.set(owner, (byTopic = new Map()));
    let ok = byTopic.get(topic);
    if (ok === undefined) {
      ok = policyAllowsDelivery(policy, topic, this.hubTopics);
      if (++this.deliveryMemoSize > DELIVERY_MEMO_ENTRIES) { this.deliveryMemo.clear(); this.deliveryMemoSize = 1; this.deliveryMemo.set(owner, byTopic = new Map()); }
      byTopic.set(topic, ok);
    }
    return ok;
  }

  clientConnected(client: ClientInfo): void {
    this.connected.set(client.connId, client);
  }

  clientDisconnected(client: ClientInfo): void {
    this.connected.delete(client.connId);
  }

  /** Disable a device and kick its connected clients. Returns how many were kicked. */
  disable(deviceId: string): number {
    this.registry.setEnabled(deviceId, false);
    return this.kickDevice(deviceId);
  }

  enable(deviceId: string): void {
    this.registry.setEnabled(deviceId, true);
  }

  /** Clients currently connected as `deviceId`. */
  clientsOf(deviceId: string): ClientInfo[] {
    return [...this.connected.values()].filter((c) => c.deviceId === deviceId);
  }

  private kickDevice(deviceId: string): number {
    const victims = this.clientsOf(deviceId);
    for (const c of victims) this.kick(c);
    return victims.length;
  }

  private kick(c: ClientInfo): void {
    if (!this.broker) throw new Error('DeviceSecurity: no broker attached to kick clients with (pass broker or call attach())');
    this.connected.delete(c.connId);
    this.broker.disconnect(c.clientId, { abrupt: false });
  }

  /** After an outside change to the registry: kick clients whose device was removed or disabled. */
  kickUnwelcome(): number {
    let n = 0;
    for (const c of [...this.connected.values()]) {
      if (!c.deviceId) continue;
      const d = this.registry.get(c.deviceId);
      if (!d || !d.enabled) {
        if (!this.broker) return n;
        this.kick(c);
        n++;
      }
    }
    return n;
  }

  /** The policy for a client, undefined = no restriction, false = the device is gone or disabled. */
  private policyFor(client: ClientInfo, kind: 'publish' | 'subscribe'): TopicPolicy | undefined | false {
    if (!client.deviceId) return this.defaults[kind];
    const device = this.cachedDevice(client.deviceId);
    if (!device || !device.enabled) return false;
    return device[kind] ?? this.defaults[kind];
  }

  private cachedDevice(id: string): Device | null {
    const rev = this.registry.revision();
    if (rev !== this.cacheRevision) {
      this.cache.clear();
      this.deliveryMemo.clear();
      this.deliveryMemoSize = 0;
      this.cacheRevision = rev;
    }
    let d = this.cache.get(id);
    if (d === undefined) {
      d = this.registry.get(id) ?? null;
      this.cache.set(id, d);
    }
    return d;
  }
}
