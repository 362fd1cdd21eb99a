// The example app: reads sensors on a schedule and publishes them as JSON at
// QoS 1; announces itself on a retained status topic (with a retained
// "offline" Will); takes commands; buffers readings while offline within a fixed
// budget, in flash where the board has Storage, so a reboot loses nothing.
// Configured by the global CONFIG object (see README.md next to this file).
// Helpers are arrow functions assigned before anything calls them: Espruino
// does not hoist function declarations.
declare const CONFIG: any;

const cfg = typeof CONFIG == 'object' && CONFIG;
if (!cfg || !cfg.id || !cfg.host) throw new Error('CONFIG: set var CONFIG={id:"<device id>",host:"<broker>"} before the app runs');

const base = 'devices/' + cfg.id + '/';
const budget = cfg.buffer || 50;
let S: any;
try {
  S = require('Storage');
} catch (e) {}
// Offline buffer: readings head..tail-1, one Storage file "tm<n>" each (or RAM).
const ram: any = {};
let head = 0;
let tail = 0;
let boot = 1;
let lost = 0;
let seq = 0;
let up: any;
let busy: any;
let timer: any;
let every = cfg.interval || 10000;
let n: number;

const put = (i: number, s: string) => S ? S.write('tm' + i, s) : ram[i] = s;
const get = (i: number) => S ? S.read('tm' + i) : ram[i];
const del = (i: number) => S ? S.erase('tm' + i) : delete ram[i];

if (S) {
  // Files left by an earlier boot: resume their order.
  S.list(/^tm\d/).forEach((f: string) => {
    n = +f.substr(2);
    if (head == tail) head = n;
    if (n < head) head = n;
    if (n >= tail) tail = n + 1;
  });
  S.write('tmboot', '' + (boot = (+S.read('tmboot') || 0) + 1));
}

const c = require('mqtt-client').create({
  net: require('net'),
  host: cfg.host,
  port: cfg.port || 1883,
  clientId: cfg.id,
  username: cfg.username,
  password: cfg.password,
  keepalive: cfg.keepalive || 30,
  // A persistent session: commands sent while the board is away still arrive.
  clean: false,
  will: { topic: base + 'status', payload: 'offline', qos: 1, retain: true },
});

const send = (t: string, s: string, cb?: any) => c.publish(base + t, s, { qos: 1 }, cb);

const store = (s: string) => {
  // Over budget: the oldest reading makes room, and is counted as lost.
  if (tail - head >= budget) {
    del(head++);
    lost++;
  }
  try {
    put(tail, s);
    tail++;
  } catch (e) {
    lost++;
  }
};

// Oldest first, one at a time; a buffered reading is erased only once acknowledged.
const drain = () => {
  const i = head;
  if (!up || busy || i == tail) return;
  const s = get(i);
  if (s == null) {
    head++;
    return drain();
  }
  busy = 1;
  send('telemetry', s, (err: any) => {
    busy = 0;
    if (err) return;
    del(i);
    if (i == head) head++;
    drain();
  });
};

const read = () => {
  const m = process.memory();
  // The Linux build's E.getTemperature() gives NaN: simulate a sensor where there is none.
  let t = E.getTemperature ? E.getTemperature() : NaN;
  if (!(t > -100)) t = 20 + 5 * Math.random();
  const s = JSON.stringify({
    id: cfg.id,
    boot: boot,
    seq: ++seq,
    time: Math.round(getTime()),
    temp: Math.round(t * 10) / 10,
    free: m.free,
    lost: lost,
  });
  if (up && head == tail) send('telemetry', s, (err: any) => err && store(s));
  else {
    store(s);
    drain();
  }
};

const start = () => {
  if (timer) clearInterval(timer);
  timer = setInterval(read, every);
};

c.on('connect', () => {
  up = 1;
  c.publish(base + 'status', 'online', { qos: 1, retain: true });
  drain();
});
c.on('offline', () => {
  up = 0;
});
c.on('error', (e: any) => console.log('mqtt:', e.message));

c.subscribe(base + 'commands', { qos: 1 }, 0, (_t: string, p: string) => {
  let m: any;
  let r: any;
  try {
    m = JSON.parse(p);
  } catch (e) {}
  if (!m || typeof m != 'object') r = { error: 'expected a JSON object' };
  else if (m.cmd == 'ping') r = { pong: m.id == null ? null : m.id, time: Math.round(getTime()), seq: seq, buffered: tail - head };
  else if (m.cmd == 'interval') {
    if (m.ms >= 100 && m.ms <= 864e5) {
      every = m.ms;
      start();
      r = { interval: every };
    } else r = { error: 'ms: expected 100..86400000' };
  } else r = { error: 'cmd: expected ping or interval' };
  r.re = m && m.cmd;
  send('reply', JSON.stringify(r));
});

const go = () => c.connect();
const wifi = () => require('Wifi').connect(cfg.wifi.ssid, { password: cfg.wifi.password }, (err: any) => {
  if (!err) return go();
  console.log('wifi:', err);
  setTimeout(wifi, 1e4);
});

start();
if (cfg.wifi) wifi();
else go();
