// Route config validation: defaults, and errors that name the field and what was expected.
import { strict as assert } from 'assert';
import { redactRoute, RouteConfigError, validateRoute, validateRoutes, DEFAULT_DELIVERY } from '../../host-broker/routes';

const rest = { name: 'api', type: 'rest', filter: 'a/#', uri: 'http://127.0.0.1:1/x' };
const s3 = { name: 'store', type: 's3', filter: '#', bucket: 'b', strategy: 'per_topic', endpoint: 'http://127.0.0.1:9000' };
const sql = { name: 'db', type: 'sql', driver: 'sqlite', filter: '#', sqlite: { path: '/tmp/x.sqlite' }, statement: 'INSERT INTO t VALUES ($TOPIC, $PAYLOAD)' };

function fails(raw: unknown, field: string, expected: RegExp, list = false) {
  assert.throws(() => (list ? validateRoutes(raw) : validateRoute(raw, 'routes[0]')), (err: unknown) => {
    assert.ok(err instanceof RouteConfigError, String(err));
    assert.equal(err.field, field);
    assert.match(err.message, expected);
    return true;
  });
}

describe('routes: config validation', () => {
  it('fills in defaults', () => {
    const r = validateRoute(rest);
    assert.equal(r.type, 'rest');
    assert.deepEqual(r.delivery, DEFAULT_DELIVERY);
    assert.equal(r.type === 'rest' && r.method, 'POST');
    const s = validateRoute({ ...s3, prefix: 'p/q/' });
    assert.ok(s.type === 's3' && s.forcePathStyle && s.prefix === 'p/q' && s.region);
    const q = validateRoute(sql);
    assert.equal(q.type === 'sql' && q.payloadFormat, 'text');
  });

  it('names the bad field and what was expected', () => {
    fails({ ...rest, name: '' }, 'routes[0].name', /non-empty string/);
    fails({ ...rest, name: 'a b' }, 'routes[0].name', /letters, digits/);
    fails({ ...rest, filter: 'a/#/b' }, 'routes[0].filter', /'#' last/);
    fails({ ...rest, type: 'ftp' }, 'routes[0].type', /one of 's3', 'sql', 'rest', got "ftp"/);
    fails({ ...rest, method: 'HEAD' }, 'routes[0].method', /'GET', 'POST', 'PUT', 'PATCH', 'DELETE'/);
    fails({ ...rest, uri: 'ftp://x' }, 'routes[0].uri', /http: or https:/);
    fails({ ...rest, uri: 'nope' }, 'routes[0].uri', /absolute http\(s\) URL/);
    fails({ ...rest, headers: { 'X-A': 5 } }, 'routes[0].headers.X-A', /printable ASCII/);
    fails({ ...rest, bukcet: 'x' }, 'routes[0].bukcet', /unknown field/);
    fails({ ...rest, delivery: { concurrency: 0 } }, 'routes[0].delivery.concurrency', /integer from 1 to 256, got 0/);
    fails({ ...rest, delivery: { backoff: { initialMs: 500, maxMs: 100 } } }, 'routes[0].delivery.backoff.maxMs', /at least initialMs/);
    fails({ ...s3, strategy: 'per_day' }, 'routes[0].strategy', /'per_topic', 'per_message'/);
    fails({ ...s3, bucket: undefined }, 'routes[0].bucket', /non-empty string, got nothing/);
    fails({ ...s3, credentials: { accessKeyId: 'a' } }, 'routes[0].credentials.secretAccessKey', /non-empty string/);
    fails({ ...sql, driver: 'mysql' }, 'routes[0].driver', /'sqlite', 'postgres'/);
    fails({ ...sql, sqlite: undefined }, 'routes[0].sqlite', /expected an object/);
    fails({ ...sql, postgres: {} }, 'routes[0].postgres', /only allowed with driver 'postgres'/);
    fails({ ...sql, statement: 'INSERT INTO t VALUES (1)' }, 'routes[0].statement', /\$TOPIC and\/or \$PAYLOAD/);
    fails({ ...sql, statement: 'INSERT INTO t VALUES ($TOPIC, $QOS)' }, 'routes[0].statement', /unknown parameter \$QOS/);
    fails({ ...sql, statement: "INSERT INTO t VALUES ($TOPIC, 'open)" }, 'routes[0].statement', /unterminated string literal/);
    fails({ ...sql, driver: 'postgres', sqlite: undefined, postgres: { port: 'x' } }, 'routes[0].postgres.port', /integer from 1 to 65535/);
    fails('nope', 'routes', /list of routes/, true);
    fails([rest, rest], 'routes[1].name', /unique/, true);
    fails([rest, { ...rest, name: 'b', uri: 1 }], 'routes[1].uri', /string, got 1/, true);
  });

  it('accepts its own output unchanged (the hub config is validated, then handed to RouteManager)', () => {
    const pgRoute = { ...sql, name: 'pg', driver: 'postgres', sqlite: undefined, postgres: { host: 'h', port: 5433, password: '' } };
    const variants = [rest, { ...rest, name: 'r2', method: 'GET', headers: { A: 'b' } }, s3, { ...s3, name: 's2', endpoint: undefined, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
      sql, { ...sql, name: 'bin', payloadFormat: 'binary', delivery: { maxQueue: 7, backoff: { initialMs: 5 } } }, pgRoute, { ...pgRoute, name: 'pg2', postgres: undefined }];
    for (const v of variants) {
      const once = validateRoute(v);
      assert.deepEqual(validateRoute(JSON.parse(JSON.stringify(once))), once, v.name);
    }
  });

  it('redacts secrets for listings', () => {
    const s = redactRoute(validateRoute({ ...s3, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } }));
    assert.deepEqual(s.type === 's3' && s.credentials, { accessKeyId: 'AK', secretAccessKey: '***' });
    const p = redactRoute(validateRoute({ ...sql, driver: 'postgres', sqlite: undefined, postgres: { connectionString: 'postgresql://u:pw@h/db', password: 'pw' } }));
    assert.ok(p.type === 'sql' && p.postgres!.password === '***' && !p.postgres!.connectionString!.includes('pw@'));
  });
});
