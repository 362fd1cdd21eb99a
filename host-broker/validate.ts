// Small checks for parsed JSON config, shared by the hub config file (config.ts)
// and route and bridge configs (routes/config.ts, bridges/config.ts, also reached
// from the CLI and the control API). Every error names the field and says what
// was expected. The caller picks the error class, so hub config errors stay
// ConfigError, route errors RouteConfigError and bridge errors BridgeConfigError.

export type Obj = Record<string, unknown>;

/** An error class whose message reads "<field>: <expected>". */
export type FieldErrorClass = new (field: string, expected: string) => Error;

/** A value as an error message shows it: JSON, cut to 60 characters. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
}

export interface Validators {
  /** A plain object (not null, not an array). */
  obj(v: unknown, field: string): Obj;
  /** Unknown keys are errors, so a typo never silently turns into a default. */
  onlyKeys(o: Obj, field: string, allowed: readonly string[]): void;
  /** A string (non-empty unless allowEmpty); undefined when absent and optional. */
  str(o: Obj, key: string, field: string, opts?: { optional?: boolean; allowEmpty?: boolean }): string | undefined;
  /** true or false; undefined when absent. */
  bool(o: Obj, key: string, field: string): boolean | undefined;
  /** An integer from min to max; `dflt` when absent. */
  int(o: Obj, key: string, field: string, min: number, max: number, dflt: number): number;
}

export function validators(Err: FieldErrorClass): Validators {
  return {
    obj(v, field) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Err(field, `expected an object, got ${show(v)}`);
      return v as Obj;
    },
    onlyKeys(o, field, allowed) {
      for (const k of Object.keys(o)) {
        if (!allowed.includes(k)) throw new Err(`${field}.${k}`, `unknown field (expected one of: ${allowed.join(', ')})`);
      }
    },
    str(o, key, field, opts = {}) {
      const v = o[key];
      if (v === undefined && opts.optional) return undefined;
      if (typeof v !== 'string' || (!opts.allowEmpty && v === '')) {
        throw new Err(`${field}.${key}`, `expected a ${opts.allowEmpty ? '' : 'non-empty '}string, got ${show(v)}`);
      }
      return v;
    },
    bool(o, key, field) {
      const v = o[key];
      if (v === undefined) return undefined;
      if (typeof v !== 'boolean') throw new Err(`${field}.${key}`, `expected true or false, got ${show(v)}`);
      return v;
    },
    int(o, key, field, min, max, dflt) {
      const v = o[key];
      if (v === undefined) return dflt;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new Err(`${field}.${key}`, `expected an integer from ${min} to ${max}, got ${show(v)}`);
      }
      return v;
    },
  };
}
