import { strict as assert } from 'assert';
import { Board } from '../../boards/sim';
import { perTest, sleep, startPeer, until } from './peer';

function connectScript(port: number): string {
  return `
    var ev = [], chunks = [];
    var sock = require("net").connect({ host: "127.0.0.1", port: ${port} }, function () { ev.push("connect"); });
    sock.on("data", function (d) { chunks.push(d); });
    sock.on("end", function () { ev.push("end"); });
    sock.on("error", function (e) { ev.push("error:" + e.code); });
    sock.on("close", function (hadError) { ev.push("close:" + hadError); });`;
}

describe('sim: faults on demand', () => {
  const t = perTest();
  const boardOf = (name: string) => t.board(name);
  const peerOf = (onConn?: Parameters<typeof startPeer>[0]) => t.peer(onConn);
  const chunks = (b: Board): string[] => [...b.eval('chunks')];

  it('refuseConnects: an ESP board gets error, end, close(true) even though the peer listens', async () => {
    const peer = await peerOf();
    const board = boardOf('esp8266');
    board.faults.refuseConnects(true);
    board.eval(connectScript(peer.port));
    await until('close', () => board.eval('ev').includes('close:true'));
    assert.deepEqual([...board.eval('ev')], ['error:-11', 'end', 'close:true']);
    assert.equal(peer.conns.length, 0);
    board.faults.refuseConnects(false);
    board.eval(connectScript(peer.port));
    await until('connect', () => board.eval('ev').includes('connect'));
  });

  it('refuseConnects: the Linux build throws from net.connect', async () => {
    const peer = await peerOf();
    const board = boardOf('linux');
    board.faults.refuseConnects(true);
    assert.throws(() => board.eval(connectScript(peer.port)), /InternalError: Unable to create socket/);
  });

  it('setChunkSize splits what arrives', async () => {
    const peer = await peerOf((s) => s.end('0123456789'));
    const board = boardOf('esp32');
    board.faults.setChunkSize(3);
    board.eval(connectScript(peer.port));
    await until('close', () => board.eval('ev').includes('close:false'));
    assert.deepEqual(chunks(board), ['012', '345', '678', '9']);
  });

  it('setChunkSize(1) delivers byte by byte; writes still arrive whole', async () => {
    const peer = await peerOf((s) => s.pipe(s));
    const board = boardOf('esp32');
    board.faults.setChunkSize(1);
    board.eval(connectScript(peer.port));
    board.eval('sock.write("\\x10\\x02hi")');
    await until('4 chunks', () => chunks(board).length === 4);
    assert.deepEqual(chunks(board), ['\x10', '\x02', 'h', 'i']);
    assert.equal(Buffer.concat(peer.received[0]).toString('latin1'), '\x10\x02hi');
    assert.throws(() => board.faults.setChunkSize(-1), /setChunkSize: expected a whole number/);
  });

  it('glue coalesces separate arrivals into one chunk, up to the chunk size', async () => {
    const peer = await peerOf((s) => { s.setNoDelay(true); s.write('aa'); s.write('bb'); setTimeout(() => s.write('cc'), 2); });
    const board = boardOf('esp32');
    board.faults.glue(true);
    board.eval(connectScript(peer.port));
    await until('6 bytes', () => chunks(board).join('').length === 6);
    assert.deepEqual(chunks(board), ['aabbcc']);
  });

  it('glue coalesces the board\'s consecutive writes into one TCP write', async () => {
    const peer = await peerOf(() => undefined);
    const board = boardOf('esp32');
    board.faults.glue(true);
    board.eval(connectScript(peer.port));
    board.eval('sock.write("a"); sock.write("b"); setTimeout(function () { sock.write("c"); }, 1);');
    await until('abc', () => Buffer.concat(peer.received[0] ?? []).toString() === 'abc');
    assert.equal(peer.received[0].length, 1, 'one read on the peer');
  });

  it('setDelay adds latency both ways (lower bound only)', async () => {
    const peer = await peerOf((s) => s.pipe(s));
    const board = boardOf('esp32');
    board.eval(connectScript(peer.port));
    await until('connect', () => board.eval('ev').includes('connect'));
    board.faults.setDelay(100);
    const t0 = Date.now();
    board.eval('sock.write("ping")');
    await until('echo', () => chunks(board).join('') === 'ping');
    assert.ok(Date.now() - t0 >= 190, `round trip took ${Date.now() - t0} ms`);
  });

  it('dropLinks closes every socket abruptly: error, end, close(true); the peer sees a reset', async () => {
    const peerErrors: string[] = [];
    const peer = await peerOf((s) => s.on('error', (e: NodeJS.ErrnoException) => peerErrors.push(String(e.code))));
    const board = boardOf('esp32');
    board.eval(connectScript(peer.port));
    board.eval(`var ev2 = []; var sock2 = require("net").connect({ host: "127.0.0.1", port: ${peer.port} }, function () {});
      sock2.on("close", function (h) { ev2.push("close:" + h); });`);
    await until('both connected', () => peer.conns.length === 2 && board.openSockets() === 2);
    board.faults.dropLinks();
    await until('close', () => board.eval('ev').includes('close:true') && board.eval('ev2').length === 1);
    assert.deepEqual([...board.eval('ev')], ['connect', 'error:-9', 'end', 'close:true']);
    assert.deepEqual([...board.eval('ev2')], ['close:true']);
    await until('the peer to see the reset', () => peerErrors.includes('ECONNRESET'));
    assert.equal(board.openSockets(), 0);
  });

  it('blackhole: nothing passes either way while the socket stays open', async () => {
    const peer = await peerOf((s) => s.pipe(s));
    const board = boardOf('esp32');
    board.eval(connectScript(peer.port));
    await until('connect', () => board.eval('ev').includes('connect'));
    board.faults.blackhole(true);
    board.eval('sock.write("lost")');
    peer.conns[0].write('also lost');
    await sleep(100);
    assert.equal(peer.received[0].length, 0);
    assert.deepEqual(chunks(board), []);
    assert.equal(board.openSockets(), 1);
    board.faults.blackhole(false);
    board.eval('sock.write("back")');
    await until('echo', () => chunks(board).join('') === 'back');
  });
});
