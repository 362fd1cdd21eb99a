import { strict as assert } from 'assert';
import { Board } from '../../boards/sim';
import { freePort } from '../helpers/ports';
import { perTest, startPeer, until } from './peer';

// Board-side script: connect and record every event in `ev`, every data chunk in `chunks`.
function connectScript(port: number, mod = 'net'): string {
  return `
    var ev = [], chunks = [], errs = [];
    var sock = require("${mod}").connect({ host: "127.0.0.1", port: ${port} }, function (s) { ev.push("connect:" + (s === sock)); });
    sock.on("data", function (d) { chunks.push(d); ev.push("data"); });
    sock.on("drain", function () { ev.push("drain"); });
    sock.on("end", function () { ev.push("end"); });
    sock.on("error", function (e) { errs.push(e); ev.push("error:" + e.code + ":" + e.message); });
    sock.on("close", function (hadError) { ev.push("close:" + hadError); });`;
}
const events = (b: Board): string[] => [...b.eval('ev')];

describe('sim: net sockets are shaped like Espruino\'s', () => {
  const t = perTest();
  const boardOf = (name: string) => t.board(name);
  const peerOf = (onConn?: Parameters<typeof startPeer>[0]) => t.peer(onConn);

  it('connect calls back with the socket, then drain; the socket has no Node-only methods', async () => {
    const peer = await peerOf();
    const board = boardOf('esp32');
    board.eval(connectScript(peer.port));
    await until('connect and drain', () => events(board).join() === 'connect:true,drain');
    assert.equal(board.eval('typeof sock.setTimeout + typeof sock.setNoDelay + typeof sock.destroy'), 'undefinedundefinedundefined');
    assert.equal(board.eval('typeof sock.write + typeof sock.end'), 'functionfunction');
  });

  for (const [name, chunk] of [['esp32', 536], ['esp8266', 268]] as const) {
    it(`${name}: data arrives as binary strings in chunks of at most ${chunk}`, async () => {
      const payload = Buffer.alloc(5000);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 255;
      const peer = await peerOf((s) => s.end(payload));
      const board = boardOf(name);
      board.eval(connectScript(peer.port));
      await until('close', () => events(board).includes('close:false'));
      const chunks: string[] = [...board.eval('chunks')];
      assert.ok(chunks.every((c) => typeof c === 'string' && c.length > 0 && c.length <= chunk),
        `chunk sizes ${chunks.map((c) => c.length)}`);
      const all = chunks.join('');
      assert.equal(all.length, payload.length);
      assert.ok(Buffer.from(all, 'latin1').equals(payload), 'bytes survive as chars 0-255');
      assert.deepEqual(events(board).slice(-2), ['end', 'close:false']);
    });
  }

  it('write sends a binary string as bytes', async () => {
    const peer = await peerOf(() => undefined);
    const board = boardOf('esp8266');
    board.eval(connectScript(peer.port));
    board.eval('sock.write("\\x00\\x01\\xfe\\xff")');
    await until('4 bytes', () => Buffer.concat(peer.received[0] ?? []).length === 4);
    assert.deepEqual([...Buffer.concat(peer.received[0])], [0, 1, 254, 255]);
  });

  it('write sends a Uint8Array, an Array or an ArrayBuffer as the text "0,1,2"', async () => {
    const peer = await peerOf(() => undefined);
    const board = boardOf('esp32');
    board.eval(connectScript(peer.port));
    board.eval('sock.write(new Uint8Array([0, 1, 2])); sock.write("|"); sock.write([3, 4]); sock.write("|"); sock.write(new Uint8Array([5, 6]).buffer);');
    await until('the text', () => Buffer.concat(peer.received[0] ?? []).toString() === '0,1,2|3,4|5,6');
  });

  it('a unicode string on the Linux build is sent as UTF-8', async () => {
    const peer = await peerOf(() => undefined);
    const board = boardOf('linux');
    board.eval(connectScript(peer.port));
    board.eval('sock.write("é\\u20ac")');
    await until('5 bytes', () => Buffer.concat(peer.received[0] ?? []).toString('utf8') === 'é€');
  });

  it('local end: end then close(false); writing after close throws "This socket is closed"', async () => {
    const peer = await peerOf(() => undefined);
    const board = boardOf('esp32');
    board.eval(connectScript(peer.port));
    await until('connect', () => events(board).includes('drain'));
    board.eval('sock.end("bye")');
    await until('close', () => events(board).includes('close:false'));
    assert.deepEqual(events(board), ['connect:true', 'drain', 'end', 'close:false']);
    await until('the peer to get "bye"', () => Buffer.concat(peer.received[0]).toString() === 'bye');
    assert.throws(() => board.eval('sock.write("x")'), /Error: This socket is closed/);
    assert.equal(board.openSockets(), 0);
  });

  it('remote close: end then close(false)', async () => {
    const peer = await peerOf((s) => setTimeout(() => s.end(), 10));
    const board = boardOf('esp32');
    board.eval(connectScript(peer.port));
    await until('close', () => events(board).includes('close:false'));
    assert.deepEqual(events(board), ['connect:true', 'drain', 'end', 'close:false']);
  });

  it('a refused connection on an ESP board arrives asynchronously as error, end, close(true)', async () => {
    const port = await freePort();
    const board = boardOf('esp32');
    board.eval(connectScript(port));
    assert.deepEqual(events(board), [], 'nothing synchronously');
    await until('close', () => events(board).includes('close:true'));
    assert.deepEqual(events(board), ['error:-11:no connection', 'end', 'close:true']);
    assert.equal(board.eval('errs[0] instanceof Object && !(errs[0] instanceof Error)'), true, 'a plain {code, message} object');
  });

  it('exceptions in socket callbacks become Uncaught lines and the socket goes on', async () => {
    const peer = await peerOf((s) => { s.write('a'); setTimeout(() => s.write('b'), 20); });
    const board = boardOf('esp32');
    board.eval(connectScript(peer.port));
    board.eval('sock.on("data", function (d) { if (d === "a") throw new Error("bad " + d); });');
    await until('both chunks', () => board.eval('chunks.join("")') === 'ab');
    assert.deepEqual(board.errors, ['Uncaught Error: bad a']);
  });

  it('net.connect also takes "host:port"', async () => {
    const peer = await peerOf();
    const board = boardOf('esp32');
    board.eval(`var got = ""; var s2 = require("net").connect("127.0.0.1:${peer.port}", function () { s2.write("hey"); }); s2.on("data", function (d) { got += d; });`);
    await until('echo', () => board.eval('got') === 'hey');
  });

  it('destroy closes the sockets without telling the board', async () => {
    let closed = false;
    const peer = await peerOf((s) => s.on('close', () => { closed = true; }));
    const board = boardOf('esp32');
    board.eval(connectScript(peer.port));
    await until('connect', () => events(board).includes('drain'));
    board.destroy();
    await until('the peer to see the close', () => closed);
    assert.deepEqual([...board.context.ev], ['connect:true', 'drain']);
  });
});
