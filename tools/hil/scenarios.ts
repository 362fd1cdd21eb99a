// The HIL scenario list. Each scenario gets a fresh agent (tools/hil/agent.js) on
// the board under test and checks what happened through the host broker's
// control API only (transcripts, faults, observed messages), so the same list
// runs on a simulated board, the Linux interpreter and a real board.
import { strict as assert } from 'assert';
import type { TranscriptEntry } from '../../host-broker/control/transcript';
import type { ControlClient, MessageJson } from '../../host-broker/control/http-client';
import type { BoardProfile } from '../../boards/profiles';

export interface ScenarioContext {
  id: string;
  control: ControlClient;
  profile: BoardProfile;
  /** Stops the whole broker and starts it again on the same port and data (SQLite). */
  restartBroker(): Promise<void>;
  /** Control-API message sequence number before the agent started. */
  since: number;
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: ScenarioContext): Promise<string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a message on `filter` after `since` whose JSON payload satisfies `pred`. */
async function waitJson(ctx: ScenarioContext, filter: string, pred: (x: any, m: MessageJson) => boolean, what: string, timeoutMs = 15000, since = ctx.since): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const { messages } = await ctx.control.messages({ since, filter });
    for (const m of messages) {
      let x: any;
      try { x = JSON.parse(m.payload); } catch { continue; }
      if (pred(x, m)) return x;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const ev = (ctx: ScenarioContext, pred: (x: any) => boolean, what: string, timeoutMs?: number, since?: number) =>
  waitJson(ctx, `hil/${ctx.id}/ev`, pred, what, timeoutMs, since);

async function lastSeq(ctx: ScenarioContext): Promise<number> {
  return (await ctx.control.messages({ filter: '$none' })).lastSeq;
}

async function connected(ctx: ScenarioContext, n = 1, timeoutMs = 15000): Promise<any> {
  return ev(ctx, (x) => x.ev === 'conn' && x.n >= n, `connect #${n} of ${ctx.id}`, timeoutMs);
}

async function transcriptUntil(ctx: ScenarioContext, pred: (t: TranscriptEntry[]) => boolean, what: string, timeoutMs = 15000): Promise<TranscriptEntry[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const t = await ctx.control.transcript(ctx.id);
    if (pred(t)) return t;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; transcript: ${t.slice(-12).map((e) => `${e.dir} ${e.cmd}${e.messageId ? '#' + e.messageId : ''}${e.dup ? ' dup' : ''}${e.fault ? ' ' + e.fault : ''}`).join(', ')}`);
    await sleep(50);
  }
}

let key = 0;
/** Tells the agent to publish; resolves with its completion report. */
async function boardPublish(ctx: ScenarioContext, t: string, q: number, n: number, timeoutMs = 15000): Promise<any> {
  const k = ++key;
  const since = await lastSeq(ctx);
  await ctx.control.publish({ topic: `hil/${ctx.id}/do`, payload: JSON.stringify({ op: 'pub', t, q, n, k }), qos: 1 });
  return { k, done: () => ev(ctx, (x) => x.ev === 'pubd' && x.k === k, `the board's report that publish ${k} completed`, timeoutMs, since) };
}

const hash = (s: string) => {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) & 0xffff;
  return h;
};
const payloadOf = (n: number) => {
  let s = 'abcdefghijklmnopqrstuvwxyz0123456789';
  while (s.length < n) s += s;
  return s.slice(0, n);
};

export const SCENARIOS: Scenario[] = [
  {
    name: 'connect',
    title: 'connect and CONNACK',
    async run(ctx) {
      const c = await connected(ctx);
      const t = await transcriptUntil(ctx, (t) => t.some((e) => e.dir === 'out' && e.cmd === 'connack'), 'CONNACK');
      const connect = t.find((e) => e.dir === 'in' && e.cmd === 'connect') as any;
      const connack = t.find((e) => e.dir === 'out' && e.cmd === 'connack') as any;
      assert.ok(connect, 'no CONNECT in the transcript');
      assert.equal(connect.clientId, ctx.id);
      assert.equal(connect.clean, false);
      assert.equal(connack.returnCode, 0);
      assert.ok(connect.will && connect.will.topic === `hil/${ctx.id}/will`, `Will in CONNECT: ${JSON.stringify(connect.will)}`);
      return `CONNECT (clean=false, keepalive ${connect.keepalive}, Will) -> CONNACK 0; board reported connect #${c.n}`;
    },
  },
  {
    name: 'qos-up',
    title: 'QoS 0/1/2 board -> broker',
    async run(ctx) {
      await connected(ctx);
      for (const q of [0, 1, 2]) {
        const since = await lastSeq(ctx);
        const p = await boardPublish(ctx, `hil/${ctx.id}/out/q${q}`, q, 16);
        await p.done();
        const m = await ctx.control.waitForMessage(`hil/${ctx.id}/out/q${q}`, { since, timeoutMs: 10000 });
        assert.equal(m.qos, q);
        assert.equal(m.payload, payloadOf(16));
      }
      const t = await ctx.control.transcript(ctx.id);
      for (const cmd of ['pubrec', 'pubcomp']) assert.ok(t.some((e) => e.dir === 'out' && e.cmd === cmd), `no ${cmd} sent to the board`);
      assert.ok(t.some((e) => e.dir === 'in' && e.cmd === 'pubrel'), 'no PUBREL from the board');
      return 'QoS 0, 1, 2 published by the board arrived once each at the broker with their QoS (PUBREC/PUBREL/PUBCOMP seen)';
    },
  },
  {
    name: 'qos-down',
    title: 'QoS 0/1/2 broker -> board (QoS 2 exactly once)',
    async run(ctx) {
      await connected(ctx);
      const since = await lastSeq(ctx);
      for (const q of [0, 1, 2] as const) await ctx.control.publish({ topic: `hil/${ctx.id}/in/q${q}`, payload: payloadOf(20), qos: q });
      for (const q of [0, 1, 2]) {
        const x = await ev(ctx, (x) => x.ev === 'got' && x.t === `hil/${ctx.id}/in/q${q}`, `the board's receipt of QoS ${q}`, 15000, since);
        assert.equal(x.q, q);
        assert.equal(x.n, 20);
        assert.equal(x.h, hash(payloadOf(20)));
      }
      await sleep(500);
      const got = (await ctx.control.messages({ since, filter: `hil/${ctx.id}/ev` })).messages.map((m) => JSON.parse(m.payload)).filter((x) => x.ev === 'got');
      assert.equal(got.filter((x) => x.t === `hil/${ctx.id}/in/q2`).length, 1, 'QoS 2 delivered more than once');
      const t = await ctx.control.transcript(ctx.id);
      assert.ok(t.some((e) => e.dir === 'in' && e.cmd === 'pubrec') && t.some((e) => e.dir === 'in' && e.cmd === 'pubcomp'), 'no PUBREC/PUBCOMP from the board');
      return 'QoS 0, 1, 2 from the broker reached the board with the right QoS and bytes; QoS 2 once';
    },
  },
  {
    name: 'will',
    title: 'Will on abrupt loss',
    async run(ctx) {
      await connected(ctx);
      const since = await lastSeq(ctx);
      await ctx.control.disconnect(ctx.id, { abrupt: true });
      const will = await ctx.control.waitForMessage(`hil/${ctx.id}/will`, { since, timeoutMs: 10000 });
      assert.equal(will.payload, 'gone');
      const c = await connected(ctx, 2, 20000);
      return `abrupt disconnect -> Will "gone" published; the board reconnected (connect #${c.n})`;
    },
  },
  {
    name: 'broker-restart',
    title: 'reconnect after a broker restart, redelivery from the persistent session',
    async run(ctx) {
      await connected(ctx);
      // The broker sends this but the board never gets it: it stays in flight in the session (SQLite).
      await ctx.control.dropNext({ clientId: ctx.id, direction: 'out', cmd: 'publish' });
      await ctx.control.publish({ topic: `hil/${ctx.id}/in/persist`, payload: payloadOf(10), qos: 1 });
      await transcriptUntil(ctx, (t) => t.some((e) => e.dir === 'out' && e.cmd === 'publish' && e.fault === 'dropped'), 'the dropped delivery');
      await ctx.control.clearFaults();
      await ctx.restartBroker();
      // A new hub process-state: its control API counts messages from 0 again.
      const c = await ev(ctx, (x) => x.ev === 'conn' && x.n >= 2, 'the board reconnecting after the restart', 30000, 0);
      assert.equal(c.sp, true, 'session present after the restart');
      const got = await ev(ctx, (x) => x.ev === 'got' && x.t === `hil/${ctx.id}/in/persist`, 'redelivery of the in-flight message', 15000, 0);
      assert.equal(got.d, true, 'the redelivery carries DUP');
      assert.equal(got.n, 10);
      return `broker restarted; the board reconnected (session present) and got the in-flight QoS 1 message again with DUP`;
    },
  },
  {
    name: 'keepalive',
    title: 'keepalive catches a dead link',
    async run(ctx) {
      await connected(ctx);
      const since = await lastSeq(ctx);
      // The link goes silent towards the board: it hears no PINGRESP.
      await ctx.control.dropNext({ clientId: ctx.id, direction: 'out', cmd: 'pingresp', count: 3 });
      const t0 = Date.now();
      const c = await ev(ctx, (x) => x.ev === 'conn' && x.n >= 2, 'the board to give up on the silent link and reconnect', 30000, since);
      assert.equal(c.err, 'keepalive timeout');
      return `PINGRESPs dropped -> the board closed the link ("keepalive timeout") and reconnected after ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    },
  },
  {
    name: 'large',
    title: 'a message larger than a socket chunk, both directions',
    async run(ctx) {
      await connected(ctx);
      const n = Math.min(3 * ctx.profile.chunkSize, ctx.profile.client.maxPacket - 100);
      assert.ok(n > ctx.profile.chunkSize, `profile ${ctx.profile.name}: maxPacket leaves no room for a message over one chunk`);
      let since = await lastSeq(ctx);
      const p = await boardPublish(ctx, `hil/${ctx.id}/out/large`, 1, n);
      await p.done();
      const up = await ctx.control.waitForMessage(`hil/${ctx.id}/out/large`, { since, timeoutMs: 10000 });
      assert.equal(Buffer.from(up.payloadBase64, 'base64').length, n);
      assert.equal(up.payload, payloadOf(n));
      since = await lastSeq(ctx);
      await ctx.control.publish({ topic: `hil/${ctx.id}/in/large`, payload: payloadOf(n), qos: 1 });
      const got = await ev(ctx, (x) => x.ev === 'got' && x.t === `hil/${ctx.id}/in/large`, 'the large message on the board', 15000, since);
      assert.equal(got.n, n);
      assert.equal(got.h, hash(payloadOf(n)));
      return `${n} bytes (chunk ${ctx.profile.chunkSize}) both ways, intact`;
    },
  },
  ...(['puback', 'pubrec'] as const).map((cmd): Scenario => ({
    name: `dropped-${cmd}`,
    title: `a dropped ${cmd.toUpperCase()} answered by a DUP resend`,
    async run(ctx) {
      await connected(ctx);
      const qos = cmd === 'puback' ? 1 : 2;
      await ctx.control.dropNext({ clientId: ctx.id, direction: 'out', cmd });
      const since = await lastSeq(ctx);
      const p = await boardPublish(ctx, `hil/${ctx.id}/out/${cmd}`, qos, 8);
      const t1 = await transcriptUntil(ctx, (t) => t.some((e) => e.dir === 'out' && e.cmd === cmd && e.fault === 'dropped'), `the dropped ${cmd}`);
      const dropped = t1.find((e) => e.dir === 'out' && e.cmd === cmd && e.fault === 'dropped')!;
      // MQTT 3.1.1 resends only on a new connection [MQTT-4.4.0-1]: end this one.
      await ctx.control.disconnect(ctx.id, { abrupt: true });
      const t2 = await transcriptUntil(ctx, (t) => t.some((e) => e.seq > dropped.seq && e.dir === 'in' && e.cmd === 'publish' && e.dup && e.messageId === dropped.messageId),
        `a PUBLISH with DUP and id ${dropped.messageId} after reconnecting`, 20000);
      assert.ok(t2.some((e) => e.seq > dropped.seq && e.dir === 'in' && e.cmd === 'connect'), 'no reconnect');
      const done = await p.done();
      assert.equal(done.err, '');
      await sleep(300);
      const msgs = (await ctx.control.messages({ since, filter: `hil/${ctx.id}/out/${cmd}` })).messages;
      if (qos === 2) assert.equal(msgs.length, 1, `QoS 2 resend delivered ${msgs.length} times`);
      else assert.ok(msgs.length >= 1);
      return `${cmd.toUpperCase()} for id ${dropped.messageId} dropped -> after reconnect the board resent PUBLISH id ${dropped.messageId} with DUP; completed${qos === 2 ? ', delivered once' : ''}`;
    },
  })),
];
