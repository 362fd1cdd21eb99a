import { strict as assert } from 'assert';
import { createBoard, Board } from '../../boards/sim';

describe('sim: memory() estimates Espruino vars', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(() => { while (cleanup.length) cleanup.pop()!(); });
  function boardOf(name: string): Board {
    const b = createBoard({ board: name });
    cleanup.push(() => b.destroy());
    return b;
  }

  it('starts at the measured empty-runtime usage with the profile total', () => {
    assert.deepEqual(boardOf('esp8266').memory(), { usage: 60, total: 1600, free: 1540 });
    assert.deepEqual(boardOf('esp32').memory(), { usage: 59, total: 16383, free: 16324 });
  });

  it('prices values close to the measurements in espruino-facts.md', () => {
    const small = boardOf('esp8266');
    const big = boardOf('esp32');
    const near = (got: number, want: number, what: string) =>
      assert.ok(Math.abs(got - want) <= Math.max(2, want * 0.15), `${what}: estimated ${got}, measured ${want}`);
    near(small.eval('E.getSizeOf("' + 'x'.repeat(40) + '")'), 7, '40-char string, 12-byte vars');
    near(big.eval('E.getSizeOf("' + 'x'.repeat(40) + '")'), 6, '40-char string, 14-byte vars');
    near(small.eval('E.getSizeOf({ a: 1, b: "two", c: [1, 2, 3] })'), 11, 'small object');
    near(small.eval('E.getSizeOf(new Uint8Array(100))'), 22, 'Uint8Array(100)');
    near(small.eval('var a = []; for (var i = 0; i < 100; i++) a.push(i); E.getSizeOf(a)'), 112, 'Array of 100 ints');
  });

  it('grows with what the app holds (globals, timers, sockets, modules) and shrinks when it is freed', () => {
    const board = boardOf('esp8266');
    const before = board.memory().usage;
    board.eval('var keep = []; for (var i = 0; i < 50; i++) keep.push({ n: i, s: "payload-" + i });');
    const held = board.memory().usage;
    assert.ok(held > before + 150, `50 objects: ${before} -> ${held}`);
    board.eval('keep = null');
    assert.ok(board.memory().usage < before + 10);
    board.eval('setTimeout(function () { var big = "' + 'y'.repeat(400) + '"; }, 100000)');
    assert.ok(board.memory().usage > before + 40, 'a pending timer keeps its callback');
    assert.equal(board.eval('process.memory().usage'), board.memory().usage);
  });
});
