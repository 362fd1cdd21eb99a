// An estimate of Espruino's JsVar usage for what a simulated board holds.
//
// How it is estimated: everything reachable from the board's globals (minus what
// existed right after boot) and from the simulator's own tables (timers, sockets,
// loaded modules) is walked once, and each value is priced with Espruino's storage
// model, calibrated on the measurements in espruino-facts.md:
//   - an object is 1 var, plus 1 when it has a prototype of its own class;
//   - each property is a name var (longer names take string blocks) plus its value;
//   - numbers, booleans and null are 1 var; array elements are 1 var each when
//     they are numbers (Espruino packs index and int in one var);
//   - strings are chains of blocks: 1 var when short, else about
//     ceil(len / (varBytes - 5)) + 1 (40 chars = 7 vars at 12 bytes, 6 at 14);
//   - a function stores its source text (so minified code is cheaper) plus 2 vars;
//   - a Uint8Array is 9 vars plus its bytes in blocks (100 bytes = 22 vars at 12).
// Values held only inside closures are invisible to the walk, so this is a lower
// bound of the board's real usage, good for comparing builds and spotting growth,
// not a promise that a given board will not run out. The empty-runtime usage comes
// from the same measurements.
export const EMPTY_USAGE: Record<string, number> = { esp8266: 60, esp32: 59 };
const DEFAULT_EMPTY_USAGE = 60;

export function emptyUsage(board: string): number {
  return EMPTY_USAGE[board] ?? DEFAULT_EMPTY_USAGE;
}

export function stringVars(len: number, varBytes: number): number {
  if (len <= varBytes - 6) return 1;
  return Math.ceil(len / (varBytes - 5)) + 1;
}

const fnToString = Function.prototype.toString;

/** Every object reachable from `root` (own properties of any kind, prototypes), for the boot baseline. */
export function reachable(root: object): WeakSet<object> {
  const seen = new WeakSet<object>();
  const stack: object[] = [root];
  while (stack.length) {
    const o = stack.pop()!;
    if (seen.has(o)) continue;
    seen.add(o);
    const proto = Object.getPrototypeOf(o);
    if (proto && typeof proto === 'object') stack.push(proto);
    for (const key of Reflect.ownKeys(o)) {
      const d = Reflect.getOwnPropertyDescriptor(o, key);
      if (!d) continue;
      for (const v of [d.value, d.get, d.set]) if (v !== null && (typeof v === 'object' || typeof v === 'function')) stack.push(v);
    }
  }
  return seen;
}

export class VarCounter {
  constructor(private readonly varBytes: number, private readonly builtins: WeakSet<object>) {}

  /** Vars for the global properties not present at boot plus every entry of the extra tables. */
  count(global: object, bootNames: Set<string>, tables: object[]): number {
    const walk = new Walk(this.varBytes, this.builtins);
    let n = 0;
    for (const key of Object.getOwnPropertyNames(global)) {
      if (bootNames.has(key)) continue;
      n += walk.property(global, key);
    }
    for (const t of tables) for (const key of Object.getOwnPropertyNames(t)) n += walk.property(t, key);
    return n + walk.drain();
  }

  sizeOf(x: unknown): number {
    const walk = new Walk(this.varBytes, this.builtins);
    return walk.value(x) + walk.drain();
  }
}

class Walk {
  private seen = new WeakSet<object>();
  private stack: object[] = [];

  constructor(private readonly varBytes: number, private readonly builtins: WeakSet<object>) {}

  property(o: object, key: string): number {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (!d) return 0;
    const name = /^\d+$/.test(key) ? 1 : stringVars(key.length, this.varBytes);
    if (d.get || d.set) return name + this.value(d.get) + this.value(d.set);
    return name + this.value(d.value);
  }

  /** Cost of a value as a property's child; objects are queued and priced once. */
  value(v: unknown): number {
    switch (typeof v) {
      case 'undefined': return 0;
      case 'string': return stringVars(v.length, this.varBytes);
      case 'number': case 'boolean': case 'bigint': case 'symbol': return 1;
      default:
        if (v === null) return 1;
        if (!this.builtins.has(v as object) && !this.seen.has(v as object)) {
          this.seen.add(v as object);
          this.stack.push(v as object);
        }
        return 0;
    }
  }

  drain(): number {
    let n = 0;
    while (this.stack.length) n += this.object(this.stack.pop()!);
    return n;
  }

  private object(o: object): number {
    if (ArrayBuffer.isView(o)) return 9 + Math.ceil(o.byteLength / (this.varBytes - 4));
    if (Object.prototype.toString.call(o) === '[object ArrayBuffer]') {
      return 2 + Math.ceil((o as ArrayBuffer).byteLength / (this.varBytes - 4));
    }
    let n = 1;
    const proto = Object.getPrototypeOf(o);
    if (proto && !this.builtins.has(proto)) {
      n += 1;
      this.value(proto);
    }
    if (typeof o === 'function') {
      let src = '';
      try { src = fnToString.call(o); } catch { /* exotic */ }
      n += 1 + stringVars(src.length, this.varBytes);
      for (const key of Object.getOwnPropertyNames(o)) {
        if (key === 'length' || key === 'name' || key === 'arguments' || key === 'caller') continue;
        if (key === 'prototype') {
          const p = (o as { prototype?: object }).prototype;
          if (p && Object.getOwnPropertyNames(p).every((k) => k === 'constructor')) continue;
        }
        n += this.property(o, key);
      }
      return n;
    }
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) {
        const e = o[i];
        n += typeof e === 'number' ? 1 : 1 + this.value(e);
      }
      for (const key of Object.getOwnPropertyNames(o)) if (key !== 'length' && !/^\d+$/.test(key)) n += this.property(o, key);
      return n;
    }
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === '__sid') continue; // the simulator's own bookkeeping
      n += this.property(o, key);
    }
    return n;
  }
}
