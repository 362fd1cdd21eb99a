// A small schema language for JSON config: one description of each field (its
// type, range, default, an example, the CLI flag that sets it) that both checks
// a config and writes its reference (docs/config.md, tools/config-doc.ts). So
// the documentation cannot drift from what the hub accepts.
//
// validate() returns a copy holding only the fields given: defaults are applied
// by the parts that use them (DEFAULT_LIMITS, DEFAULT_EVENTS...), and the schema
// shows those same constants as its defaults.
import * as path from 'path';
import { FieldErrorClass, Obj, show } from './validate';

interface Doc {
  /** What the field does, in a sentence or two (Markdown). */
  doc: string;
  /** The value used when the field is absent, as the reference shows it. */
  default?: string;
  /** A value for the reference; the doc test checks that it passes validation. */
  example?: unknown;
  /** The command-line flag of `host-broker start` that sets the same thing. */
  flag?: string;
}

export type Schema = Doc & (
  | { kind: 'object'; fields: Record<string, Schema>; required?: string[]; check?: (v: Obj, field: string, fail: Fail) => void }
  | { kind: 'int'; min: number; max: number; expected?: string }
  | { kind: 'bool' }
  /** check: returns what is wrong, or null. path: a file or directory, resolved against the config file's directory. */
  | { kind: 'string'; allowEmpty?: boolean; check?: (s: string) => string | null; path?: boolean; type?: string }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; of: Schema; expected?: string; check?: (v: unknown[], field: string, fail: Fail) => void }
  /** Checked by its own validator (routes, bridges); documented by `type` and a link. baseDir: as in ValidateOptions. */
  | { kind: 'custom'; type: string; parse: (v: unknown, field: string, baseDir?: string) => unknown }
);

export type Fail = (field: string, expected: string) => never;

export interface ValidateOptions {
  /** The error class: its message reads "<field>: <expected>". */
  Err: FieldErrorClass;
  /** Where relative paths are resolved from (the config file's directory); unset: left as given. */
  baseDir?: string;
}

/** `field` of a child: "a.b", or "b" under the root (whose own name, e.g. "config", only prefixes its own errors). */
const child = (parent: string, key: string, root: string): string => (parent === root ? key : `${parent}.${key}`);

/**
 * Checks `raw` against `schema`; `field` names it in errors. Returns a clean copy.
 * `root`: a field name its children do not repeat ("config": "listeners", not "config.listeners").
 */
export function validate(schema: Schema, raw: unknown, field: string, opts: ValidateOptions, root = ''): unknown {
  const fail: Fail = (f, expected) => { throw new opts.Err(f, expected); };
  switch (schema.kind) {
    case 'object': {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(field, `expected an object, got ${show(raw)}`);
      const o = raw as Obj;
      const allowed = Object.keys(schema.fields);
      for (const k of Object.keys(o)) {
        if (!allowed.includes(k)) fail(`${field}.${k}`, `unknown field (expected one of: ${allowed.join(', ')})`);
      }
      for (const k of schema.required ?? []) if (o[k] === undefined) fail(child(field, k, root), `required (${describe(schema.fields[k])})`);
      const out: Obj = {};
      for (const k of allowed) {
        if (o[k] !== undefined) out[k] = validate(schema.fields[k], o[k], child(field, k, root), opts, root);
      }
      schema.check?.(out, field, fail);
      return out;
    }
    case 'int':
      if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < schema.min || raw > schema.max) {
        fail(field, `expected ${schema.expected ?? `an integer ${schema.min}..${schema.max}`}, got ${show(raw)}`);
      }
      return raw;
    case 'bool':
      if (typeof raw !== 'boolean') fail(field, `expected true or false, got ${show(raw)}`);
      return raw;
    case 'string': {
      if (typeof raw !== 'string' || (!schema.allowEmpty && raw === '')) fail(field, `expected a ${schema.allowEmpty ? '' : 'non-empty '}string, got ${show(raw)}`);
      const why = schema.check?.(raw as string);
      if (why) fail(field, why);
      return schema.path && opts.baseDir !== undefined ? path.resolve(opts.baseDir, raw as string) : raw;
    }
    case 'enum':
      if (typeof raw !== 'string' || !schema.values.includes(raw)) fail(field, `expected one of ${schema.values.join(', ')}, got ${show(raw)}`);
      return raw;
    case 'list': {
      if (!Array.isArray(raw)) fail(field, `expected ${schema.expected ?? `a list of ${describe(schema.of)}`}, got ${show(raw)}`);
      const out = (raw as unknown[]).map((x, i) => validate(schema.of, x, `${field}[${i}]`, opts, root));
      schema.check?.(out, field, fail);
      return out;
    }
    case 'custom':
      return schema.parse(raw, field, opts.baseDir);
  }
}

/** The type of a field in words, as errors and the reference say it. */
export function describe(s: Schema): string {
  switch (s.kind) {
    case 'object': return 'an object';
    case 'int': return s.expected ?? `an integer ${s.min}..${s.max}`;
    case 'bool': return 'true or false';
    case 'string': return s.type ?? (s.path ? 'a path' : 'a string');
    case 'enum': return `one of ${s.values.map((v) => `\`${v}\``).join(', ')}`;
    case 'list': return s.expected ?? `a list of ${describe(s.of).replace(/^an? /, '')}s`;
    case 'custom': return s.type;
  }
}

/** Every field of a schema, depth first: its path in the reference ("devices[].id") and its schema. */
export function fieldsOf(s: Schema, at = ''): { path: string; schema: Schema }[] {
  const out: { path: string; schema: Schema }[] = [];
  if (s.kind === 'object') {
    for (const [k, f] of Object.entries(s.fields)) {
      const p = at ? `${at}.${k}` : k;
      out.push({ path: p, schema: f }, ...fieldsOf(f, p));
    }
  } else if (s.kind === 'list' && s.of.kind === 'object') {
    out.push(...fieldsOf(s.of, `${at}[]`));
  }
  return out;
}
