// Checks minified bundles against what the Espruino interpreter runs
// (../shared/reference/espruino-facts.md, "works" column): parses each with acorn
// and reports, with file, construct and character offset, any syntax or global
// the board lacks, for-let loops whose closures would share one binding, classes
// extending Error, and uses of a function declaration before it has run
// (Espruino does not hoist them).
//
//   npm run check:bundles            # every .js under dist/
//   tsx tools/check-bundles.ts a.js  # given files or directories
import * as acorn from 'acorn';
import * as fs from 'fs';
import * as path from 'path';

export interface Finding {
  file: string;
  offset: number;
  line: number;
  column: number;
  construct: string;
  message: string;
}

type Node = acorn.Node & Record<string, any>;

const MISSING_GLOBALS = ['RangeError', 'EvalError', 'URIError', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'Buffer', 'TextEncoder', 'TextDecoder', 'Proxy',
  'Reflect', 'BigInt', 'WeakRef', 'FinalizationRegistry', 'queueMicrotask', 'setImmediate', 'structuredClone'];
const MISSING_STATICS: Record<string, string[]> = {
  Array: ['from', 'of'],
  ArrayBuffer: ['isView'],
  Number: ['isInteger', 'isSafeInteger'],
  Math: ['trunc', 'imul'],
  Object: ['freeze', 'fromEntries'],
};
/** `X.prototype.m` reads undefined on Espruino even though `[].m` works. */
const UNDEFINED_PROTO_PROPS: Record<string, string[]> = { Array: ['slice'], Function: ['apply'] };
const ERROR_CLASSES = ['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError'];

// ---------------------------------------------------------------- scopes

interface Decl { kind: 'var' | 'let' | 'const' | 'class' | 'function' | 'param' | 'catch'; node: Node }
class Scope {
  names = new Map<string, Decl>();
  constructor(readonly parent: Scope | null, readonly isFunction: boolean) {}
  functionScope(): Scope {
    return this.isFunction || !this.parent ? this : this.parent.functionScope();
  }
  resolve(name: string): Decl | undefined {
    return this.names.get(name) ?? this.parent?.resolve(name);
  }
}

interface Ref {
  node: Node;
  scope: Scope;
  /** The function (or Program) whose run executes this reference. */
  ctx: Node;
  /** The reference is the callee of a call or `new`. */
  called: boolean;
}

function isFunction(n: Node): boolean {
  return n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression';
}

function patternNames(p: Node | null, out: Node[] = []): Node[] {
  if (!p) return out;
  switch (p.type) {
    case 'Identifier': out.push(p); break;
    case 'ObjectPattern': for (const prop of p.properties) patternNames(prop.type === 'RestElement' ? prop.argument : prop.value, out); break;
    case 'ArrayPattern': for (const e of p.elements) patternNames(e, out); break;
    case 'RestElement': patternNames(p.argument, out); break;
    case 'AssignmentPattern': patternNames(p.left, out); break;
  }
  return out;
}

/** Walks the tree once: builds scopes, records references, and reports syntax findings through `syntax`. */
class Analyzer {
  refs: Ref[] = [];
  /** Function declarations with the statement list they sit in and their execution context. */
  fnDecls = new Map<Node, { list: Node[]; index: number; ctx: Node }>();
  parents = new Map<Node, Node>();

  constructor(private readonly syntax: (node: Node, construct: string, message: string) => void) {}

  run(program: Node): void {
    const scope = new Scope(null, true);
    this.hoist(program.body, scope, program);
    this.visitList(program.body, scope, program, program);
  }

  /** Declares var/function/let/const/class of a statement list before it is walked (resolution is by scope, not order). */
  private hoist(list: Node[], scope: Scope, ctx: Node): void {
    list.forEach((stmt, index) => {
      if (stmt.type === 'FunctionDeclaration' && stmt.id) {
        scope.names.set(stmt.id.name, { kind: 'function', node: stmt });
        this.fnDecls.set(stmt, { list, index, ctx });
      } else if (stmt.type === 'ClassDeclaration' && stmt.id) {
        scope.names.set(stmt.id.name, { kind: 'class', node: stmt });
      } else if (stmt.type === 'VariableDeclaration' && stmt.kind !== 'var') {
        for (const d of stmt.declarations) for (const id of patternNames(d.id)) scope.names.set(id.name, { kind: stmt.kind, node: id });
      }
    });
    // `var` anywhere below (not inside nested functions) belongs to the function scope.
    const fnScope = scope.functionScope();
    const varWalk = (n: Node | null): void => {
      if (!n || typeof n.type !== 'string' || isFunction(n)) return;
      if (n.type === 'VariableDeclaration' && n.kind === 'var') {
        for (const d of n.declarations) for (const id of patternNames(d.id)) if (!fnScope.names.has(id.name)) fnScope.names.set(id.name, { kind: 'var', node: id });
      }
      if (n.type === 'ClassDeclaration' || n.type === 'ClassExpression') return;
      for (const key of Object.keys(n)) {
        const v = n[key];
        if (Array.isArray(v)) v.forEach((c) => c && typeof c.type === 'string' && varWalk(c));
        else if (v && typeof v.type === 'string' && key !== 'type') varWalk(v);
      }
    };
    for (const stmt of list) varWalk(stmt);
  }

  private visitList(list: Node[], scope: Scope, ctx: Node, parent: Node): void {
    for (const n of list) this.visit(n, scope, ctx, parent);
  }

  private declarePattern(p: Node | null, scope: Scope, kind: Decl['kind'] | 'assign', ctx: Node, parent: Node): void {
    if (!p) return;
    this.parents.set(p, parent);
    switch (p.type) {
      case 'Identifier':
        // var, let, const and class were declared by hoist(); an assignment target is a reference.
        if (kind === 'param' || kind === 'catch') scope.names.set(p.name, { kind, node: p });
        else if (kind === 'assign') this.refs.push({ node: p, scope, ctx, called: false });
        else if (!scope.names.has(p.name)) scope.names.set(p.name, { kind, node: p });
        break;
      case 'ObjectPattern':
        this.syntax(p, 'destructuring', 'Espruino has no destructuring');
        for (const prop of p.properties) {
          if (prop.type === 'RestElement') { this.syntax(prop, 'rest', 'Espruino has no rest elements'); this.declarePattern(prop.argument, scope, kind, ctx, prop); continue; }
          if (prop.computed) { this.syntax(prop, 'computed key', 'Espruino has no computed keys'); this.visit(prop.key, scope, ctx, prop); }
          this.declarePattern(prop.value, scope, kind, ctx, prop);
        }
        break;
      case 'ArrayPattern':
        this.syntax(p, 'destructuring', 'Espruino has no destructuring');
        for (const e of p.elements) this.declarePattern(e, scope, kind, ctx, p);
        break;
      case 'RestElement':
        this.syntax(p, 'rest', 'Espruino has no rest parameters');
        this.declarePattern(p.argument, scope, kind, ctx, p);
        break;
      case 'AssignmentPattern':
        this.syntax(p, 'default value', 'Espruino has no default parameters or destructuring defaults');
        this.declarePattern(p.left, scope, kind, ctx, p);
        this.visit(p.right, scope, ctx, p);
        break;
      default:
        // Assignment targets such as `[a.b] = x` (only in assignment destructuring).
        this.visit(p, scope, ctx, parent);
    }
  }

  private visitFunction(fn: Node, scope: Scope, parent: Node): void {
    if (fn.async) this.syntax(fn, 'async function', 'Espruino has no async/await');
    if (fn.generator) this.syntax(fn, 'generator', 'Espruino has no generators');
    const inner = new Scope(scope, true);
    if (fn.type === 'FunctionExpression' && fn.id) inner.names.set(fn.id.name, { kind: 'function', node: fn });
    for (const p of fn.params) this.declarePattern(p, inner, 'param', fn, fn);
    if (fn.body.type === 'BlockStatement') {
      this.parents.set(fn.body, fn);
      this.hoist(fn.body.body, inner, fn);
      this.visitList(fn.body.body, inner, fn, fn.body);
    } else {
      this.visit(fn.body, inner, fn, fn);
    }
    void parent;
  }

  private containsClosure(n: Node): boolean {
    let found = false;
    const walk = (x: Node): void => {
      if (found || !x || typeof x.type !== 'string') return;
      if (isFunction(x) || x.type === 'ClassExpression' || x.type === 'ClassDeclaration') { found = true; return; }
      for (const key of Object.keys(x)) {
        const v = x[key];
        if (Array.isArray(v)) v.forEach((c) => c && typeof c.type === 'string' && walk(c));
        else if (v && typeof v.type === 'string' && key !== 'type') walk(v);
      }
    };
    walk(n);
    return found;
  }

  visit(n: Node | null, scope: Scope, ctx: Node, parent: Node): void {
    if (!n || typeof n.type !== 'string') return;
    this.parents.set(n, parent);
    switch (n.type) {
      case 'Identifier': {
        const p = parent;
        const called = (p.type === 'CallExpression' || p.type === 'NewExpression') && p.callee === n;
        this.refs.push({ node: n, scope, ctx, called });
        return;
      }
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression': {
        // An IIFE runs where it stands, so its body shares the caller's context.
        const iife = (parent.type === 'CallExpression' || parent.type === 'NewExpression') && parent.callee === n;
        this.visitFunction(n, scope, parent);
        if (iife) this.iifes.add(n);
        return;
      }
      case 'VariableDeclaration':
        for (const d of n.declarations) {
          this.parents.set(d, n);
          this.declarePattern(d.id, scope, n.kind, ctx, d);
          this.visit(d.init, scope, ctx, d);
        }
        return;
      case 'ClassDeclaration':
      case 'ClassExpression': {
        if (n.superClass && n.superClass.type === 'Identifier' && ERROR_CLASSES.includes(n.superClass.name) && !scope.resolve(n.superClass.name)) {
          this.syntax(n, 'class extends Error', `Espruino cannot extend ${n.superClass.name}`);
        }
        this.visit(n.superClass, scope, ctx, n);
        const inner = new Scope(scope, false);
        if (n.id) inner.names.set(n.id.name, { kind: 'class', node: n });
        this.parents.set(n.body, n);
        for (const m of n.body.body) {
          this.parents.set(m, n.body);
          if (m.type === 'StaticBlock') { this.syntax(m, 'class static block', 'Espruino has no class static blocks'); continue; }
          if (m.key && m.key.type === 'PrivateIdentifier') this.syntax(m.key, 'private #x', 'Espruino has no private class members');
          if (m.computed) { this.syntax(m, 'computed key', 'Espruino has no computed keys'); this.visit(m.key, inner, ctx, m); }
          if (m.type === 'MethodDefinition') this.visit(m.value, inner, ctx, m);
          else if (m.value) this.visit(m.value, inner, m.static ? ctx : m, m);
        }
        return;
      }
      case 'BlockStatement': {
        const inner = new Scope(scope, false);
        this.hoist(n.body, inner, ctx);
        this.visitList(n.body, inner, ctx, n);
        return;
      }
      case 'SwitchStatement': {
        this.visit(n.discriminant, scope, ctx, n);
        const inner = new Scope(scope, false);
        const all: Node[] = [];
        for (const c of n.cases) all.push(...c.consequent);
        this.hoist(all, inner, ctx);
        for (const c of n.cases) {
          this.parents.set(c, n);
          this.visit(c.test, inner, ctx, c);
          this.visitList(c.consequent, inner, ctx, c);
        }
        return;
      }
      case 'ForStatement':
      case 'ForInStatement':
      case 'ForOfStatement': {
        if (n.type === 'ForOfStatement' && n.await) this.syntax(n, 'for await', 'Espruino has no async iteration');
        const head = n.type === 'ForStatement' ? n.init : n.left;
        const inner = new Scope(scope, false);
        if (n.type === 'ForStatement' && head && head.type === 'VariableDeclaration' && head.kind !== 'var' && this.containsClosure(n.body)) {
          this.syntax(n, 'for (let ...) with closures', 'Espruino shares one binding across for(let ...) iterations, so closures created in the body all see the last value');
        }
        this.visit(head, inner, ctx, n);
        if (n.type === 'ForStatement') { this.visit(n.test, inner, ctx, n); this.visit(n.update, inner, ctx, n); } else this.visit(n.right, inner, ctx, n);
        this.visit(n.body, inner, ctx, n);
        return;
      }
      case 'CatchClause': {
        const inner = new Scope(scope, false);
        if (n.param) this.declarePattern(n.param, inner, 'catch', ctx, n);
        this.visit(n.body, inner, ctx, n);
        return;
      }
      case 'MemberExpression':
        this.visit(n.object, scope, ctx, n);
        if (n.computed) this.visit(n.property, scope, ctx, n);
        else if (n.property.type === 'PrivateIdentifier') this.syntax(n.property, 'private #x', 'Espruino has no private class members');
        return;
      case 'Property':
        if (n.computed) { this.syntax(n, 'computed key', 'Espruino has no computed keys'); this.visit(n.key, scope, ctx, n); }
        this.visit(n.value, scope, ctx, n);
        return;
      case 'LabeledStatement': this.visit(n.body, scope, ctx, n); return;
      case 'BreakStatement': case 'ContinueStatement': case 'MetaProperty': case 'Literal': case 'TemplateElement': case 'PrivateIdentifier':
        if (n.type === 'Literal' && typeof n.bigint === 'string') this.syntax(n, 'BigInt literal', 'Espruino has no BigInt');
        if (n.type === 'Literal' && n.regex && unescapedSlashInClass(n.regex.pattern)) {
          this.syntax(n, 'unescaped / in a regex character class', "Espruino's lexer ends the regex at the first unescaped /, even inside [...]: write \\/");
        }
        if (n.type === 'MetaProperty') this.syntax(n, `${n.meta.name}.${n.property.name}`, 'Espruino has no meta properties');
        return;
      case 'ObjectPattern': case 'ArrayPattern': case 'RestElement': case 'AssignmentPattern':
        this.declarePattern(n, scope, 'assign', ctx, parent); // assignment destructuring (e.g. in a for-of head)
        return;
      case 'AssignmentExpression':
        if (n.operator === '**=') this.syntax(n, '**', 'Espruino has no ** operator');
        if (n.operator === '&&=' || n.operator === '||=' || n.operator === '??=') this.syntax(n, n.operator, 'Espruino has no logical assignment');
        if (n.left.type === 'ObjectPattern' || n.left.type === 'ArrayPattern') this.declarePattern(n.left, scope, 'assign', ctx, n);
        else this.visit(n.left, scope, ctx, n);
        this.visit(n.right, scope, ctx, n);
        return;
      case 'BinaryExpression':
        if (n.operator === '**') this.syntax(n, '**', 'Espruino has no ** operator; use Math.pow');
        break;
      case 'SpreadElement': this.syntax(n, 'spread', 'Espruino has no spread'); break;
      case 'ChainExpression': this.syntax(n, 'optional chaining ?.', 'Espruino has no ?.'); break;
      case 'AwaitExpression': this.syntax(n, 'await', 'Espruino has no async/await'); break;
      case 'YieldExpression': this.syntax(n, 'yield', 'Espruino has no generators'); break;
      case 'TaggedTemplateExpression': this.syntax(n, 'tagged template', 'Keep to plain template literals on Espruino'); break;
      case 'ImportExpression': case 'ImportDeclaration': case 'ExportNamedDeclaration': case 'ExportDefaultDeclaration': case 'ExportAllDeclaration':
        this.syntax(n, 'ES module syntax', 'Espruino modules are CommonJS-shaped'); return;
    }
    for (const key of Object.keys(n)) {
      if (key === 'type' || key === 'start' || key === 'end' || key === 'loc' || key === 'range') continue;
      const v = n[key];
      if (Array.isArray(v)) { for (const c of v) if (c && typeof c.type === 'string') this.visit(c, scope, ctx, n); } else if (v && typeof v.type === 'string') this.visit(v, scope, ctx, n);
    }
  }

  iifes = new Set<Node>();

  /** The context that actually runs a reference: IIFEs run in their caller's. */
  runCtx(ctx: Node): Node {
    let c = ctx;
    while (this.iifes.has(c)) c = this.ctxOf(c);
    return c;
  }

  private ctxOf(fn: Node): Node {
    for (let p = this.parents.get(fn); p; p = this.parents.get(p)) {
      if (isFunction(p) || p.type === 'Program' || p.type === 'PropertyDefinition') return p;
    }
    throw new Error('no context');
  }
}

// ---------------------------------------------------------------- checks

function lineCol(src: string, offset: number): { line: number; column: number } {
  let line = 1, last = -1;
  for (let i = src.indexOf('\n'); i >= 0 && i < offset; i = src.indexOf('\n', i + 1)) { line++; last = i; }
  return { line, column: offset - last };
}

/** Every finding in one bundle's source text, in order of offset. */
export function checkSource(src: string, file = '<source>'): Finding[] {
  const findings: Finding[] = [];
  const add = (offset: number, construct: string, message: string) => {
    findings.push({ file, offset, ...lineCol(src, offset), construct, message });
  };
  let program: Node;
  try {
    program = acorn.parse(src, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true }) as Node;
  } catch (e) {
    const err = e as SyntaxError & { pos?: number };
    add(err.pos ?? 0, 'syntax error', err.message);
    return findings;
  }
  const a = new Analyzer((node, construct, message) => add(node.start, construct, message));
  a.run(program);

  // Globals and static methods the board lacks (only where the name is not a local).
  for (const r of a.refs) {
    const name = r.node.name as string;
    if (r.scope.resolve(name)) continue;
    const parent = a.parents.get(r.node);
    if (MISSING_GLOBALS.includes(name)) add(r.node.start, name, `Espruino has no ${name}`);
    if (parent && parent.type === 'MemberExpression' && parent.object === r.node) {
      const prop = propName(parent);
      if (prop && MISSING_STATICS[name]?.includes(prop)) add(parent.start, `${name}.${prop}`, `Espruino has no ${name}.${prop}`);
      if (name === 'globalThis' && prop && MISSING_GLOBALS.includes(prop)) add(parent.start, prop, `Espruino has no ${prop}`);
      const grand = a.parents.get(parent);
      if (prop === 'prototype' && grand && grand.type === 'MemberExpression' && grand.object === parent) {
        const m = propName(grand);
        if (m && UNDEFINED_PROTO_PROPS[name]?.includes(m)) {
          add(grand.start, `${name}.prototype.${m}`, `${name}.prototype.${m} reads undefined on Espruino; call it on an instance`);
        }
      }
    }
  }
  // .finally (Promise.prototype.finally) anywhere.
  const finallyWalk = (n: Node): void => {
    if (!n || typeof n.type !== 'string') return;
    if (n.type === 'MemberExpression' && propName(n) === 'finally') add(n.property.start, '.finally', 'Espruino has no Promise.prototype.finally');
    for (const key of Object.keys(n)) {
      const v = n[key];
      if (Array.isArray(v)) v.forEach((c) => c && typeof c.type === 'string' && finallyWalk(c));
      else if (v && typeof v.type === 'string' && key !== 'type') finallyWalk(v);
    }
  };
  finallyWalk(program);

  checkHoisting(a, add);
  findings.sort((x, y) => x.offset - y.offset);
  return findings;
}

function propName(m: Node): string | undefined {
  if (!m.computed && m.property.type === 'Identifier') return m.property.name;
  if (m.computed && m.property.type === 'Literal' && typeof m.property.value === 'string') return m.property.value;
  return undefined;
}

/**
 * Espruino defines a function declaration when execution reaches it. Reports a
 * reference run before that point in the same run of its scope, directly or
 * through calls to other function declarations whose bodies use it.
 */
function checkHoisting(a: Analyzer, add: (offset: number, construct: string, message: string) => void): void {
  const declOf = (r: Ref): Node | undefined => {
    const d = r.scope.resolve(r.node.name);
    return d && d.kind === 'function' && d.node.type === 'FunctionDeclaration' ? d.node : undefined;
  };
  // For each function declaration: the function declarations its own run uses, by reference.
  const uses = new Map<Node, Ref[]>();
  for (const r of a.refs) {
    const ctx = a.runCtx(r.ctx);
    if (ctx.type !== 'FunctionDeclaration') continue;
    if (!declOf(r)) continue;
    if (!uses.has(ctx)) uses.set(ctx, []);
    uses.get(ctx)!.push(r);
  }
  const reported = new Set<string>();
  const tooEarly = (decl: Node, at: number, ctx: Node): boolean => {
    const info = a.fnDecls.get(decl);
    if (!info || a.runCtx(info.ctx) !== ctx) return false;
    const first = info.list[0];
    return at >= first.start && at < decl.start && !(at >= decl.start && at < decl.end);
  };
  for (const r of a.refs) {
    const decl = declOf(r);
    if (!decl) continue;
    const ctx = a.runCtx(r.ctx);
    const at = r.node.start;
    if (tooEarly(decl, at, ctx)) {
      const key = `${at}`;
      if (!reported.has(key)) {
        reported.add(key);
        add(at, 'use before declaration', `${r.node.name} is used before its function declaration at offset ${decl.start} has run (Espruino does not hoist function declarations)`);
      }
      continue;
    }
    if (!r.called) continue;
    // Calling g here runs g's body now: everything g uses must already be declared.
    const seen = new Set<Node>([decl]);
    const queue: Node[] = [decl];
    while (queue.length) {
      const g = queue.shift()!;
      for (const u of uses.get(g) ?? []) {
        const d = declOf(u)!;
        if (tooEarly(d, at, ctx)) {
          const key = `${at}:${d.start}`;
          if (!reported.has(key)) {
            reported.add(key);
            add(at, 'use before declaration', `calling ${r.node.name} here runs ${u.node.name} (offset ${u.node.start}) before its function declaration at offset ${d.start} has run (Espruino does not hoist function declarations)`);
          }
        }
        if (u.called && !seen.has(d)) { seen.add(d); queue.push(d); }
      }
    }
  }
}

// ---------------------------------------------------------------- files

/** dist/ folders that hold no board code: the hub console runs in browsers. */
const NOT_FOR_BOARDS = [path.join('dist', 'console')];

/** Every .js file under the given files/directories (but not the browser console's). */
export function findBundles(roots: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (!fs.existsSync(p)) return;
    const st = fs.statSync(p);
    if (st.isDirectory() && NOT_FOR_BOARDS.some((d) => path.resolve(p) === path.resolve(d))) return;
    if (st.isDirectory()) for (const f of fs.readdirSync(p).sort()) walk(path.join(p, f));
    else if (p.endsWith('.js') || p.endsWith('.cjs')) out.push(p);
  };
  for (const r of roots) walk(r);
  return out;
}

export function checkFiles(files: string[]): Finding[] {
  const all: Finding[] = [];
  for (const f of files) all.push(...checkSource(fs.readFileSync(f, 'utf8'), f));
  return all;
}

export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}:${f.column} (offset ${f.offset}): ${f.construct}: ${f.message}`;
}

function main(argv: string[]): number {
  const roots = argv.length ? argv : ['dist'];
  const files = findBundles(roots);
  if (!files.length) {
    if (!argv.length && !fs.existsSync('firmware/index.ts')) {
      console.log('check-bundles: no bundles in dist/ and no firmware/index.ts yet: nothing to check');
      return 0;
    }
    console.error(`check-bundles: no bundles found under ${roots.join(', ')}: run npm run build first`);
    return 1;
  }
  const findings = checkFiles(files);
  for (const f of findings) console.error(formatFinding(f));
  if (findings.length) {
    console.error(`check-bundles: ${findings.length} construct(s) Espruino cannot run, in ${new Set(findings.map((f) => f.file)).size} of ${files.length} bundle(s)`);
    return 1;
  }
  console.log(`check-bundles: ${files.length} bundle(s) stay inside what Espruino runs: ${files.join(', ')}`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

/** True when a regex pattern has a `/` inside a [...] class without a backslash before it. */
export function unescapedSlashInClass(pattern: string): boolean {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') { i++; continue; }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '/') return true;
    } else if (c === '[') inClass = true;
  }
  return false;
}
