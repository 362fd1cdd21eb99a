import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createBoard, Board } from '../../boards/sim';

describe('sim: Storage (simulated flash)', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(() => { while (cleanup.length) cleanup.pop()!(); });
  function boardOf(name: string, storageDir?: string, storageBytes?: number): Board {
    const b = createBoard({ board: name, storageDir, storageBytes });
    cleanup.push(() => b.destroy());
    return b;
  }

  it('write / read / list / erase, binary-safe', () => {
    const board = boardOf('esp32');
    board.eval('var S = require("Storage"); S.write("a", "\\x00\\xffhi"); S.writeJSON("cfg", { x: [1, 2] }); S.write("u8", new Uint8Array([1, 2, 3]));');
    assert.equal(board.eval('S.read("a")'), '\x00\xffhi');
    assert.equal(board.eval('S.read("a", 2, 1)'), 'h');
    assert.equal(board.eval('S.readJSON("cfg").x[1]'), 2);
    assert.equal(board.eval('S.read("u8")'), '\x01\x02\x03');
    assert.equal(board.eval('new Uint8Array(S.readArrayBuffer("u8"))[2]'), 3);
    assert.deepEqual([...board.eval('S.list()')], ['a', 'cfg', 'u8']);
    assert.deepEqual([...board.eval('S.list(/^c/)')], ['cfg']);
    board.eval('S.erase("a")');
    assert.equal(board.eval('S.read("a")'), undefined);
    assert.equal(board.eval('S.readJSON("missing", true)'), undefined);
  });

  it('writes at an offset into a file created with a size; erased flash reads 0xFF', () => {
    const board = boardOf('esp8266');
    board.eval('var S = require("Storage"); S.write("f", "ab", 0, 6); S.write("f", "cd", 4);');
    assert.equal(board.eval('S.read("f")'), 'ab\xff\xffcd');
    assert.throws(() => board.eval('S.write("f", "toolong", 4)'), /overrun/);
    assert.throws(() => board.eval('S.write("nofile", "x", 2)'), /does not exist/);
  });

  it('refuses names over 28 chars and writes beyond the flash size', () => {
    const board = boardOf('esp32', undefined, 1000);
    assert.throws(() => board.eval('require("Storage").write("' + 'n'.repeat(29) + '", "x")'), /File name too long/);
    assert.throws(() => board.eval('require("Storage").write("big", E.toString({ data: "x", count: 2000 }))'), /Storage full/);
    assert.ok(board.eval('require("Storage").getFree()') > 900);
  });

  it('StorageFile: append lines and read them back', () => {
    const board = boardOf('esp32');
    board.eval('var S = require("Storage"); var f = S.open("log", "a"); f.write("one\\n"); f.write("two\\n");');
    board.eval('var r = S.open("log", "r"); var l1 = r.readLine(), l2 = r.readLine(), l3 = r.readLine();');
    assert.deepEqual([board.context.l1, board.context.l2, board.context.l3], ['one\n', 'two\n', undefined]);
    assert.deepEqual([...board.eval('S.list(undefined, { sf: true })')], ['log']);
    board.eval('S.open("log", "w")');
    assert.equal(board.eval('S.open("log", "r").getLength()'), 0);
  });

  it('survives a simulated reboot when given a directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-flash-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const first = boardOf('esp32', dir);
    first.eval('require("Storage").write("keep", "\\x01kept")');
    first.destroy();
    const second = boardOf('esp32', dir);
    assert.equal(second.eval('require("Storage").read("keep")'), '\x01kept');
    const other = boardOf('esp32');
    assert.equal(other.eval('require("Storage").read("keep")'), undefined, 'without the directory flash starts empty');
  });
});
