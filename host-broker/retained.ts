// Retained messages: the last retained message per topic, written through to the
// store. $SYS/... values stay in memory: the hub republishes them from its
// counters every interval and at start, so storing them would only wear the disk.
import type { RetainedMessage, Store } from './store/types';
import { topicMatches } from '../firmware/topic';

const volatile = (topic: string) => topic.startsWith('$SYS/');

export class RetainedMessages {
  private byTopic = new Map<string, RetainedMessage>();

  constructor(private store: Store) {
    for (const m of store.loadRetained()) this.byTopic.set(m.topic, m);
  }

  get size(): number { return this.byTopic.size; }

  /** Stores the message, or clears the topic when the payload is empty [MQTT-3.3.1-10/11]. */
  set(msg: RetainedMessage): void {
    if (msg.payload.length === 0) {
      if (this.byTopic.delete(msg.topic) && !volatile(msg.topic)) this.store.deleteRetained(msg.topic);
      return;
    }
    const m = { topic: msg.topic, payload: Buffer.from(msg.payload), qos: msg.qos };
    this.byTopic.set(m.topic, m);
    if (!volatile(m.topic)) this.store.putRetained(m);
  }

  /** Retained messages matching a filter, in topic order. */
  match(filter: string): RetainedMessage[] {
    const out: RetainedMessage[] = [];
    // Fast path: a filter without wildcards names one topic.
    if (filter.indexOf('+') < 0 && filter.indexOf('#') < 0) {
      const m = this.byTopic.get(filter);
      return m ? [m] : [];
    }
    for (const m of this.byTopic.values()) if (topicMatches(filter, m.topic)) out.push(m);
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }
}
