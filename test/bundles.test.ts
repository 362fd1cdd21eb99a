// The bundle check `npm test` runs: every minified bundle in dist/ must stay inside
// what Espruino runs (espruino-facts.md, "works" column). The checker itself is
// tested first on snippets, so it is known to fail when it should.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { checkSource, findBundles, formatFinding } from '../tools/check-bundles';

const constructs = (src: string) => checkSource(src).map((f) => f.construct);

describe('bundle check: the checker', () => {
  const bad: [string, string, string][] = [
    // [what, snippet, construct reported]
    ['object destructuring', 'var {a} = o;', 'destructuring'],
    ['array destructuring', 'let [a, b] = o;', 'destructuring'],
    ['destructuring parameter', 'function f({a}) { return a; }', 'destructuring'],
    ['destructuring assignment', 'var a; [a] = o;', 'destructuring'],
    ['call spread', 'f(...xs);', 'spread'],
    ['array spread', 'var a = [...xs];', 'spread'],
    ['object spread', 'var a = {...o};', 'spread'],
    ['rest parameter', 'function f(...xs) { return xs; }', 'rest'],
    ['default parameter', 'function f(a = 1) { return a; }', 'default value'],
    ['arrow default parameter', 'var f = (a = 1) => a;', 'default value'],
    ['computed key', 'var o = { [k]: 1 };', 'computed key'],
    ['computed method', 'class A { [k]() {} }', 'computed key'],
    ['async function', 'async function f() {}', 'async function'],
    ['await', 'async function f() { await g(); }', 'await'],
    ['async arrow', 'var f = async () => 1;', 'async function'],
    ['generator', 'function* g() { yield 1; }', 'generator'],
    ['optional member', 'var a = o?.b;', 'optional chaining ?.'],
    ['optional call', 'o.f?.();', 'optional chaining ?.'],
    ['exponent', 'var a = 2 ** 3;', '**'],
    ['exponent assignment', 'var a = 2; a **= 3;', '**'],
    ['private field', 'class A { #x = 1; get() { return this.#x; } }', 'private #x'],
    ['for-let closures', 'var fs = []; for (let i = 0; i < 3; i++) fs.push(() => i);', 'for (let ...) with closures'],
    ['for-let function in body', 'for (let i = 0; i < 3; i++) { setTimeout(function () { log(i); }, 0); }', 'for (let ...) with closures'],
    ['class extends Error', 'class E2 extends Error {}', 'class extends Error'],
    ['class extends TypeError', 'var E3 = class extends TypeError {};', 'class extends Error'],
    ['call before declaration at top level', 'f(); function f() {}', 'use before declaration'],
    ['reference before declaration', 'var g = f; function f() {}', 'use before declaration'],
    ['call before declaration in a function body', 'function outer() { inner(); function inner() {} }', 'use before declaration'],
    ['call before declaration in a block', 'if (x) { h(); function h() {} }', 'use before declaration'],
    ['call through a function that uses a later one', 'function a() { return b(); } a(); function b() {}', 'use before declaration'],
    ['IIFE runs before the declaration', '(function () { f(); })(); function f() {}', 'use before declaration'],
    ['Map', 'var m = new Map();', 'Map'],
    ['RangeError (missing on the board)', 'throw new RangeError("r");', 'RangeError'],
    ['Set', 'var s = new Set([1]);', 'Set'],
    ['WeakMap', 'var w = new WeakMap();', 'WeakMap'],
    ['Symbol', 'var s = Symbol("x");', 'Symbol'],
    ['Symbol.iterator', 'o[Symbol.iterator] = f;', 'Symbol'],
    ['Buffer', 'var b = Buffer.from("x");', 'Buffer'],
    ['TextEncoder', 'var b = new TextEncoder().encode(s);', 'TextEncoder'],
    ['TextDecoder', 'var s = new TextDecoder().decode(b);', 'TextDecoder'],
    ['Array.from', 'var a = Array.from(s);', 'Array.from'],
    ['ArrayBuffer.isView', 'var v = ArrayBuffer.isView(x);', 'ArrayBuffer.isView'],
    ['Number.isInteger', 'var i = Number.isInteger(x);', 'Number.isInteger'],
    ['Math.trunc', 'var i = Math.trunc(x);', 'Math.trunc'],
    ['Math.imul', 'var i = Math.imul(x, y);', 'Math.imul'],
    ['Object.freeze', 'var o = Object.freeze({});', 'Object.freeze'],
    ['computed Object["freeze"]', 'var o = Object["freeze"]({});', 'Object.freeze'],
    ['Promise finally', 'p.then(f).finally(g);', '.finally'],
    ['globalThis.Map', 'var M = globalThis.Map;', 'Map'],
    ['Array.prototype.slice', 'var a = Array.prototype.slice.call(arguments);', 'Array.prototype.slice'],
    ['tagged template', 'var s = tag`x`;', 'tagged template'],
    ['BigInt literal', 'var b = 10n;', 'BigInt literal'],
    ['logical assignment', 'var a; a ??= 1;', '??='],
    ['/ inside a regex class', 'var r = /[^/]#|#./;', 'unescaped / in a regex character class'],
    ['syntax error', 'var = ;', 'syntax error'],
  ];
  for (const [what, src, construct] of bad) {
    it(`reports ${what}`, () => {
      const found = checkSource(src, 'snippet.js');
      assert.ok(found.some((f) => f.construct === construct), `expected "${construct}" in ${JSON.stringify(found.map(formatFinding))}`);
    });
  }

  const good: [string, string][] = [
    ['an escaped / in a regex class, and / outside one', 'var r = /[^\\/]#|a\\/b|[a-z]/;'],
    ['classes with extends, super, static, getters, fields', 'class A { constructor() { this.a = 1; } get g() { return this.a; } static s() { return 1; } }\nclass B extends A { constructor() { super(); } x = 1; static y = 2; }'],
    ['arrows, let/const, templates, shorthand, ??', 'const a = 1; let b = a ?? 2; const o = { a, b, m() { return `${a}`; } }; const f = (x) => x + 1;'],
    ['for..of and Promise then/catch', 'for (const x of [1, 2]) log(x); Promise.resolve(1).then(f).catch(g);'],
    ['Object.assign/keys/entries, includes, padStart', 'Object.assign({}, Object.keys(o), Object.entries(o)); [1].includes(1); "a".padStart(2);'],
    ['Uint8Array, DataView, String.fromCharCode.apply', 'var u = new Uint8Array(4); new DataView(u.buffer); String.fromCharCode.apply(null, u);'],
    ['a local named like a missing global', 'function f(Map) { return new Map(); } var g = function () { var Set = 1; return Set; };'],
    ['a property named like a missing global', 'o.Map = 1; o.Symbol(); var x = { Buffer: 1 };'],
    ['a function declared before its use', 'function f() {} f();'],
    ['a later declaration used only inside a callback', 'function a() { setTimeout(function () { b(); }, 1); } a(); function b() {}'],
    ['a later declaration used inside a function that runs later', 'function a() { return b(); } function b() {} a();'],
    ['a later declaration used in a nested function', 'var h = function () { return f(); }; function f() {} h();'],
    ['for (let) without closures', 'for (let i = 0; i < 3; i++) log(i);'],
    ['for (var) with closures', 'for (var i = 0; i < 3; i++) fs.push(function () { return 1; });'],
    ['a user class named Error shadowing', 'class Error2 {} class C extends Error2 {}'],
    ['Math.pow, 0b and 0o literals', 'var a = Math.pow(2, 3) + 0b1 + 0o7;'],
  ];
  for (const [what, src] of good) {
    it(`accepts ${what}`, () => {
      const found = checkSource(src, 'snippet.js');
      assert.deepEqual(found.map(formatFinding), []);
    });
  }

  it('names the file, the construct and its character offset (line:column)', () => {
    const src = 'var ok = 1;\nvar m = new Map();';
    const [f] = checkSource(src, 'dist/x/y.js');
    assert.equal(f.offset, src.indexOf('Map'));
    assert.equal(formatFinding(f), `dist/x/y.js:2:13 (offset ${src.indexOf('Map')}): Map: Espruino has no Map`);
  });

  it('reports every occurrence in offset order', () => {
    const found = checkSource('var a = [...b]; var c = d?.e; var f = Symbol();');
    assert.deepEqual(found.map((f) => f.construct), ['spread', 'optional chaining ?.', 'Symbol']);
    assert.deepEqual(found.map((f) => f.offset), [9, 24, 38]);
  });

  it('accepts what rollup and terser emit for a CommonJS Espruino module', () => {
    assert.deepEqual(constructs('"use strict";class t{constructor(t){this.o=t}p(t,s){return this.o.write(String.fromCharCode(t>>8,255&t)+s),this}}exports.Client=t,exports.connect=function(s){return new t(s)};'), []);
  });
});

describe('bundle check: dist/', () => {
  const firmwareEntry = 'firmware/index.ts';
  if (!fs.existsSync(firmwareEntry)) {
    it.skip(`skipped: ${firmwareEntry} does not exist yet, so there is nothing to build into dist/`);
    return;
  }
  const bundles = findBundles(['dist']);
  it('the build produced at least one bundle (npm test builds first; alone: npm run build)', () => {
    assert.ok(bundles.length > 0, `no .js bundles under ${path.resolve('dist')}: run npm run build`);
  });
  for (const file of bundles) {
    it(`${file} stays inside what Espruino runs`, () => {
      const found = checkSource(fs.readFileSync(file, 'utf8'), file);
      assert.deepEqual(found.map(formatFinding), []);
    });
  }
});
