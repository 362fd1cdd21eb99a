// Per-client packet transcripts (both directions), bounded in entries per
// client and in number of clients so a long HIL run cannot eat the host's memory.
import type { Packet } from 'mqtt-packet';
import type { ClientInfo } from '../hooks';
import { PacketSummary, summarizePacket } from './packet-summary';

export interface TranscriptEntry extends PacketSummary {
  /** Increases by one per recorded packet across all clients; use it with `after` to read only what is new. */
  seq: number;
  time: number;
  dir: 'in' | 'out';
  connId: number;
  /** The transcript's key: the MQTT client id (kept across reconnects). */
  client: string;
  /** What a fault rule did to this packet, if anything. */
  fault?: 'dropped' | 'delayed' | 'disconnected';
  delayMs?: number;
}

export interface TranscriptOptions {
  maxEntriesPerClient?: number;
  maxClients?: number;
}

export class TranscriptRecorder {
  private readonly maxEntries: number;
  private readonly maxClients: number;
  // Insertion order = least recently written first, for eviction.
  private readonly byClient = new Map<string, TranscriptEntry[]>();
  private readonly connClient = new Map<number, string>();
  private seq = 0;
  /** Entries that were evicted because a transcript was full. */
  evicted = 0;

  constructor(opts: TranscriptOptions = {}) {
    this.maxEntries = opts.maxEntriesPerClient ?? 1000;
    this.maxClients = opts.maxClients ?? 500;
    if (!(this.maxEntries >= 1) || !(this.maxClients >= 1)) throw new Error('transcript: maxEntriesPerClient and maxClients must be >= 1');
  }

  /** The client id a packet belongs to: CONNECT names it before the core has filled ClientInfo in. */
  keyFor(client: ClientInfo, packet?: Packet): string {
    if (packet && packet.cmd === 'connect') {
      const id = (packet as any).clientId || client.clientId || `conn-${client.connId}`;
      this.connClient.set(client.connId, id);
      return id;
    }
    if (client.clientId) {
      this.connClient.set(client.connId, client.clientId);
      return client.clientId;
    }
    return this.connClient.get(client.connId) ?? `conn-${client.connId}`;
  }

  record(client: ClientInfo, dir: 'in' | 'out', packet: Packet, fault?: TranscriptEntry['fault'], delayMs?: number): TranscriptEntry {
    const key = this.keyFor(client, packet);
    const entry: TranscriptEntry = { seq: ++this.seq, time: Date.now(), dir, connId: client.connId, client: key, ...summarizePacket(packet) };
    if (fault) entry.fault = fault;
    if (delayMs !== undefined) entry.delayMs = delayMs;
    let list = this.byClient.get(key);
    if (list) {
      this.byClient.delete(key); // re-insert: most recently written last
    } else {
      list = [];
      while (this.byClient.size >= this.maxClients) {
        const oldest = this.byClient.keys().next().value as string;
        this.evicted += this.byClient.get(oldest)!.length;
        this.byClient.delete(oldest);
      }
    }
    this.byClient.set(key, list);
    list.push(entry);
    if (list.length > this.maxEntries) {
      list.shift();
      this.evicted++;
    }
    return entry;
  }

  /** The connection is gone: forget its id mapping (the transcript stays). */
  forgetConnection(connId: number): void {
    this.connClient.delete(connId);
  }

  get(clientId: string, opts: { after?: number } = {}): TranscriptEntry[] {
    const list = this.byClient.get(clientId) ?? [];
    const after = opts.after ?? 0;
    return list.filter((e) => e.seq > after);
  }

  clientIds(): string[] {
    return [...this.byClient.keys()];
  }

  clear(clientId?: string): void {
    if (clientId === undefined) this.byClient.clear();
    else this.byClient.delete(clientId);
  }

  lastSeq(): number {
    return this.seq;
  }
}
