// $TOPIC / $PAYLOAD become driver parameters; nothing else in the text changes.
import { strict as assert } from 'assert';
import { compileStatement } from '../../host-broker/routes/sql-params';

describe('routes: SQL statement parameters', () => {
  it('sqlite: positional ? in order of appearance, repeats included', () => {
    assert.deepEqual(compileStatement('INSERT INTO t (a, b, c) VALUES ($TOPIC, $PAYLOAD, $TOPIC)', 'sqlite'),
      { text: 'INSERT INTO t (a, b, c) VALUES (?, ?, ?)', params: ['TOPIC', 'PAYLOAD', 'TOPIC'] });
  });

  it('postgres: $1/$2 numbered by name, casts kept', () => {
    assert.deepEqual(compileStatement('INSERT INTO t VALUES ($PAYLOAD::jsonb, $TOPIC, $PAYLOAD)', 'postgres'),
      { text: 'INSERT INTO t VALUES ($1::jsonb, $2, $1)', params: ['PAYLOAD', 'TOPIC'] });
  });

  it('skips literals, quoted identifiers, comments and dollar quotes', () => {
    const sql = `INSERT INTO "x$TOPIC" VALUES ('$PAYLOAD''s', $TOPIC) -- $PAYLOAD\n/* $TOPIC */`;
    assert.equal(compileStatement(sql, 'sqlite').text, `INSERT INTO "x$TOPIC" VALUES ('$PAYLOAD''s', ?) -- $PAYLOAD\n/* $TOPIC */`);
    assert.equal(compileStatement('SELECT $q$ $TOPIC $q$, $PAYLOAD', 'postgres').text, 'SELECT $q$ $TOPIC $q$, $1');
    assert.equal(compileStatement('INSERT INTO a$b VALUES ($TOPIC)', 'postgres').text, 'INSERT INTO a$b VALUES ($1)');
  });

  it('refuses other parameters, so nothing is silently bound to NULL', () => {
    assert.throws(() => compileStatement('VALUES ($TOPIC, ?)', 'sqlite'), /unknown parameter \?/);
    assert.throws(() => compileStatement('VALUES ($TOPIC, :x)', 'sqlite'), /unknown parameter :x/);
    assert.throws(() => compileStatement('VALUES ($TOPIC, $1)', 'postgres'), /unknown parameter \$1/);
    assert.throws(() => compileStatement('VALUES ($topic)', 'postgres'), /unknown parameter \$topic/);
    assert.throws(() => compileStatement('VALUES ($TOPICS)', 'sqlite'), /unknown parameter \$TOPICS/);
    assert.throws(() => compileStatement('VALUES (1) /* open', 'sqlite'), /unterminated comment/);
  });
});
