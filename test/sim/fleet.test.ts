import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createFleet, Fleet } from '../../boards/sim/fleet';
import { Peer, startPeer, until } from './peer';

describe('sim: a fleet of boards in one process', () => {
  let fleet: Fleet | null = null;
  let peer: Peer | null = null;
  afterEach(async () => {
    fleet?.destroy();
    await peer?.close();
    fleet = null;
    peer = null;
  });

  it('runs 30 boards, each with its own socket, against one server', async () => {
    const p = (peer = await startPeer());
    const f = (fleet = createFleet({ board: ['esp32', 'esp8266'], count: 30, modules: { hello: 'exports.id = function (i) { return "board-" + i; };' } }));
    assert.deepEqual(f.boards.map((b) => b.name).slice(0, 3), ['esp32', 'esp8266', 'esp32']);
    f.eval((i) => `var got = ""; var s = require("net").connect({ host: "127.0.0.1", port: ${p.port} }, function () { s.write(require("hello").id(${i})); });
      s.on("data", function (d) { got += d; });`);
    await until('every echo', () => f.boards.every((b, i) => b.eval('got') === `board-${i}`));
    assert.equal(p.conns.length, 30);
    assert.equal(f.openSockets(), 30);
    f.destroy();
    await until('the server to see every socket close', () => p.conns.every((c) => c.destroyed || c.readableEnded));
  });

  it('boards do not share globals, faults or errors', async () => {
    const p = (peer = await startPeer());
    const f = (fleet = createFleet({ board: 'esp32', count: 3 }));
    f.boards[0].eval('var mine = 1; Object.prototype.extra = 1;');
    assert.deepEqual(f.eval('typeof mine + "/" + typeof ({}).extra'), ['number/number', 'undefined/undefined', 'undefined/undefined']);
    f.boards[1].faults.refuseConnects(true);
    f.eval(`var ev = []; var s = require("net").connect({ host: "127.0.0.1", port: ${p.port} }, function () { ev.push("connect"); });
      s.on("close", function (e) { ev.push("close:" + e); });`);
    f.boards[2].eval('setTimeout(function () { throw new Error("only me"); }, 1);');
    await until('board 0 and 2 to connect, board 1 to be refused', () =>
      f.boards[0].eval('ev[0]') === 'connect' && f.boards[2].eval('ev[0]') === 'connect' && f.boards[1].eval('ev[0]') === 'close:true');
    await until('the error', () => f.errors().length === 1);
    assert.deepEqual(f.errors(), [{ board: 2, line: 'Uncaught Error: only me' }]);
  });

  it('each board keeps its own flash under storageRoot', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-flash-'));
    try {
      let f = createFleet({ board: 'esp8266', count: 2, storageRoot: root });
      f.eval((i) => `require("Storage").write("id", "${i}")`);
      f.destroy();
      f = fleet = createFleet({ board: 'esp8266', count: 2, storageRoot: root });
      assert.deepEqual(f.eval('require("Storage").read("id")'), ['0', '1']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('sums memory over the boards and refuses a bad count', () => {
    const f = (fleet = createFleet({ board: 'esp8266', count: 4 }));
    f.boards[3].eval('var big = "' + 'x'.repeat(800) + '";');
    const m = f.memory();
    assert.equal(m.usage, f.boards.reduce((n, b) => n + b.memory().usage, 0));
    assert.equal(m.max, f.boards[3].memory().usage);
    assert.ok(m.max > f.boards[0].memory().usage + 50);
    assert.throws(() => createFleet({ board: 'esp32', count: 0 }), /"count" must be a whole number >= 1/);
    assert.throws(() => createFleet({ board: 'nope', count: 1 }), /unknown board "nope"/);
  });
});
