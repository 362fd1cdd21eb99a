// Turns a route's SQL statement into one with driver placeholders. $TOPIC and
// $PAYLOAD are found outside string literals, quoted identifiers and comments and
// replaced by parameters, so topic and payload text never enters the SQL text.

export type Param = 'TOPIC' | 'PAYLOAD';
export interface CompiledStatement {
  /** SQL with `?` (sqlite) or `$1`, `$2` (postgres) in place of the names. */
  text: string;
  /** For sqlite: the value to bind to each `?`, in order. For postgres: the value of $1, $2. */
  params: Param[];
}

const NAMES: Param[] = ['TOPIC', 'PAYLOAD'];

/** Throws an Error saying what is wrong when the statement cannot be used. */
export function compileStatement(sql: string, driver: 'sqlite' | 'postgres'): CompiledStatement {
  let out = '';
  const params: Param[] = [];
  let i = 0;
  const n = sql.length;
  const copyUntil = (end: number) => { out += sql.slice(i, end); i = end; };
  while (i < n) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`' || (c === '[' && driver === 'sqlite')) {
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new Error(`unterminated ${c === "'" ? 'string literal' : 'quoted identifier'} starting at character ${i + 1}`);
        if (sql[j] === close) {
          if (close !== ']' && sql[j + 1] === close) { j += 2; continue; } // doubled quote escapes itself
          break;
        }
        j++;
      }
      copyUntil(j + 1);
    } else if (c === '-' && sql[i + 1] === '-') {
      const j = sql.indexOf('\n', i);
      copyUntil(j < 0 ? n : j);
    } else if (c === '/' && sql[i + 1] === '*') {
      const j = sql.indexOf('*/', i + 2);
      if (j < 0) throw new Error(`unterminated comment starting at character ${i + 1}`);
      copyUntil(j + 2);
    } else if (c === '$' && i > 0 && /[A-Za-z0-9_$]/.test(sql[i - 1])) {
      copyUntil(i + 1); // '$' inside an identifier such as a$b
    } else if (c === '$' || ((c === '?' || c === ':' || c === '@') && driver === 'sqlite')) {
      const m = /^[$?:@]([A-Za-z_][A-Za-z0-9_]*)?(\d+)?(\$)?/.exec(sql.slice(i));
      const word = m && m[1];
      if (driver === 'postgres' && c === '$' && m && m[3] !== undefined) {
        // A dollar-quoted string: $tag$ ... $tag$
        const tag = m[0];
        const j = sql.indexOf(tag, i + tag.length);
        if (j < 0) throw new Error(`unterminated dollar-quoted string starting at character ${i + 1}`);
        copyUntil(j + tag.length);
      } else if (c === '$' && word && NAMES.includes(word as Param) && m![2] === undefined) {
        const name = word as Param;
        if (driver === 'sqlite') {
          out += '?';
          params.push(name);
        } else {
          let k = params.indexOf(name);
          if (k < 0) { params.push(name); k = params.length - 1; }
          out += `$${k + 1}`;
        }
        i += 1 + word.length;
      } else if (c === ':' && driver === 'sqlite' && !word) {
        copyUntil(i + 1);
      } else {
        const shown = m ? m[0] : c;
        throw new Error(`unknown parameter ${shown} at character ${i + 1} (only $TOPIC and $PAYLOAD are bound)`);
      }
    } else {
      copyUntil(i + 1);
    }
  }
  if (params.length === 0) throw new Error('expected a statement using $TOPIC and/or $PAYLOAD');
  return { text: out, params };
}

/** The values for one message, in the order the compiled statement binds them. */
export function bindValues(compiled: CompiledStatement, format: 'text' | 'binary', m: { topic: string; payload: Buffer }): (string | Buffer)[] {
  return compiled.params.map((p) => (p === 'TOPIC' ? m.topic : format === 'text' ? m.payload.toString('utf8') : m.payload));
}
