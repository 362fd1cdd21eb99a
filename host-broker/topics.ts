// Subscription tree for routing: one node per topic level, with `+` and `#`
// children. match() walks only the branches a topic can reach.
import type { QoS } from './store/types';

interface Node {
  children: Map<string, Node>;
  /** clientId -> granted QoS for the filter ending at this node. */
  subs: Map<string, QoS>;
}

const newNode = (): Node => ({ children: new Map(), subs: new Map() });

/** Subscriber entries the match cache may hold in all; it starts afresh beyond this. */
const MATCH_CACHE_ENTRIES = 100_000;

export class SubscriptionTree {
  private root = newNode();
  private count = 0;
  /**
   * match() results by topic, dropped on every add/remove: devices publish to the
   * same topics over and over, and walking the tree allocates per message.
   */
  private cache = new Map<string, ReadonlyMap<string, QoS>>();
  private cachedEntries = 0;

  get size(): number { return this.count; }

  add(filter: string, clientId: string, qos: QoS): void {
    this.dropCache();
    let n = this.root;
    for (const level of filter.split('/')) {
      let c = n.children.get(level);
      if (!c) n.children.set(level, (c = newNode()));
      n = c;
    }
    if (!n.subs.has(clientId)) this.count++;
    n.subs.set(clientId, qos);
  }

  remove(filter: string, clientId: string): boolean {
    this.dropCache();
    const path: Node[] = [this.root];
    const levels = filter.split('/');
    let n = this.root;
    for (const level of levels) {
      const c = n.children.get(level);
      if (!c) return false;
      path.push(c);
      n = c;
    }
    if (!n.subs.delete(clientId)) return false;
    this.count--;
    // Prune empty branches so the tree does not grow with churn.
    for (let i = levels.length; i > 0; i--) {
      const node = path[i];
      if (node.subs.size > 0 || node.children.size > 0) break;
      path[i - 1].children.delete(levels[i - 1]);
    }
    return true;
  }

  /**
   * Every subscriber whose filters match `topic`, each once, with the highest QoS
   * among its matching filters. The map is shared until the next add/remove: read it only.
   */
  match(topic: string): ReadonlyMap<string, QoS> {
    let hit = this.cache.get(topic);
    if (hit === undefined) {
      hit = this.walk(topic);
      if (this.cachedEntries + hit.size + 1 > MATCH_CACHE_ENTRIES) this.dropCache();
      this.cache.set(topic, hit);
      this.cachedEntries += hit.size + 1;
    }
    return hit;
  }

  private dropCache(): void {
    if (this.cache.size === 0) return;
    this.cache.clear();
    this.cachedEntries = 0;
  }

  private walk(topic: string): Map<string, QoS> {
    const out = new Map<string, QoS>();
    const levels = topic.split('/');
    const dollar = topic.charAt(0) === '$';
    const take = (subs: Map<string, QoS>) => {
      for (const [id, q] of subs) {
        const prev = out.get(id);
        if (prev === undefined || q > prev) out.set(id, q);
      }
    };
    // An explicit stack, not recursion: a topic may have ~32,000 levels, deeper than the JS stack.
    const stack: [Node, number][] = [[this.root, 0]];
    while (stack.length > 0) {
      const [n, i] = stack.pop()!;
      // A leading wildcard does not match $-topics [MQTT-4.7.2-1].
      const wild = !(dollar && i === 0);
      if (wild) {
        const hash = n.children.get('#');
        if (hash) take(hash.subs); // `#` also matches the parent level [MQTT-4.7.1-2]
      }
      if (i === levels.length) { take(n.subs); continue; }
      const exact = n.children.get(levels[i]);
      if (exact) stack.push([exact, i + 1]);
      if (wild) {
        const plus = n.children.get('+');
        if (plus) stack.push([plus, i + 1]);
      }
    }
    return out;
  }
}
