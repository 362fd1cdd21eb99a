// The simulator side of the fleet bench, in its own process so its CPU and
// memory are its own: N simulated boards (boards/sim) each running the
// telemetry app (dist/<board>/telemetry.js) or, when that is not built, a small
// publisher on mqtt-client, one reading per interval. Driven over IPC.
import * as fs from 'fs';
import * as path from 'path';
import { createBoard, type Board } from '../../boards/sim';
import { ROOT } from '../lib/proc';

/** Boards `${tag}-${first}` .. `${tag}-${first + count - 1}`. */
export interface FleetStart { cmd: 'start'; port: number; count: number; first: number; board: string; tag: string; intervalMs: number }
type Command = FleetStart | { cmd: 'sent' } | { cmd: 'stop' } | { cmd: 'exit' };

/** Publishes on telemetry topics handed to the client are counted in SENT; after STOP they are not made. */
const COUNTING_WRAPPER = `var SENT=0,STOP=0;(function(){var m=require("mqtt-client"),mk=m.create;m.create=function(o){var c=mk(o),p=c.publish;
c.publish=function(t,s,o2,cb){if(t.indexOf("/telemetry")>0){if(STOP)return;SENT++}return p(t,s,o2,cb)};return c}})();`;

/** Used only when dist/<board>/telemetry.js is missing: one QoS 1 reading per interval. */
const FALLBACK_APP = `(function(){var c=require("mqtt-client").create({net:require("net"),host:CONFIG.host,port:CONFIG.port,clientId:CONFIG.id,keepalive:30}),n=0;
c.on("error",function(e){console.log("mqtt: "+e.message)});
setInterval(function(){c.publish("devices/"+CONFIG.id+"/telemetry",JSON.stringify({id:CONFIG.id,seq:++n,temp:E.getTemperature()}),{qos:1})},CONFIG.interval);c.connect()})();`;

const boards: Board[] = [];
let first = 0;
const errors: string[] = [];
let app = '';

function start(m: FleetStart): Promise<void> {
  const dist = path.join(ROOT, 'dist', m.board);
  const client = fs.readFileSync(path.join(dist, 'mqtt-client.js'), 'utf8');
  const telemetry = path.join(dist, 'telemetry.js');
  // The label says exactly what runs: the app, on the client whose create() is wrapped to count readings.
  app = `${fs.existsSync(telemetry) ? `dist/${m.board}/telemetry.js` : 'a fallback publisher (telemetry.js not built)'} on dist/${m.board}/mqtt-client.js`
    + ' with create() wrapped so that publish() counts telemetry readings';
  const appSource = fs.existsSync(telemetry) ? fs.readFileSync(telemetry, 'utf8') : FALLBACK_APP;
  // Spread the boots over at least one interval, one board per turn of the event
  // loop: creating a board takes about as long as a socket round trip, and a
  // batch of hundreds at once would stall the boards already running (their
  // readings would pile up in their buffers while the simulator is busy).
  return new Promise((resolve) => {
    let made = 0;
    const t0 = Date.now();
    const next = () => {
      const id = `${m.tag}-${m.first + made}`;
      const b = createBoard({ board: m.board, log: (l) => { if (/Uncaught|mqtt:/.test(l) && errors.length < 50) errors.push(`${id}: ${l}`); } });
      b.addModule('mqtt-client', client);
      b.eval(COUNTING_WRAPPER);
      b.eval(`var CONFIG={id:${JSON.stringify(id)},host:"127.0.0.1",port:${m.port},interval:${m.intervalMs}};`);
      try {
        b.eval(appSource);
      } catch (e) {
        if (errors.length < 50) errors.push(`${id}: ${(e as Error).message}`);
      }
      boards.push(b);
      if (++made >= m.count) { resolve(); return; }
      const due = t0 + (made * m.intervalMs) / m.count;
      if (due > Date.now()) setTimeout(next, due - Date.now());
      else setImmediate(next);
    };
    next();
  });
}

const sent = () => {
  const out: Record<string, number> = {};
  boards.forEach((b, i) => { out[first + i] = Number(b.eval('SENT')); });
  return out;
};

process.on('message', async (m: Command) => {
  if (m.cmd === 'start') {
    first = m.first;
    await start(m);
    process.send!({ ev: 'started', app });
  } else if (m.cmd === 'sent') {
    process.send!({ ev: 'sent', sent: sent(), errors, openSockets: boards.reduce((a, b) => a + b.openSockets(), 0) });
  } else if (m.cmd === 'stop') {
    for (const b of boards) b.eval('STOP=1');
    process.send!({ ev: 'stopped', sent: sent(), errors });
  } else if (m.cmd === 'exit') {
    for (const b of boards) b.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
