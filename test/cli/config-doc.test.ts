// docs/config.md is generated from the schema the hub validates its config with;
// this fails when the two differ (run `npm run docs:config`), and checks that the
// examples the reference shows are valid.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import { fieldsOf, validate } from '../../host-broker/config-schema';
import { ConfigError, EXAMPLE_CONFIG, HUB_CONFIG_SCHEMA, validateConfig } from '../../host-broker/config';
import { CONFIG_DOC, configReference } from '../../tools/config-doc';

describe('config reference (docs/config.md)', () => {
  it('is what `npm run docs:config` writes from the validator\'s schema', () => {
    const want = configReference();
    const have = fs.readFileSync(CONFIG_DOC, 'utf8');
    if (have !== want) {
      const a = have.split('\n');
      const b = want.split('\n');
      const i = a.findIndex((line, n) => line !== b[n]);
      assert.fail(`docs/config.md differs from the config schema (host-broker/config.ts) at line ${i + 1}:\n  file:   ${a[i]}\n  schema: ${b[i]}\nrun \`npm run docs:config\``);
    }
  });

  it('documents every field the validator accepts, each with a type, a description and (for values) an example that passes its own check', () => {
    const fields = fieldsOf(HUB_CONFIG_SCHEMA);
    assert.ok(fields.length > 50, `${fields.length} fields`);
    const doc = fs.readFileSync(CONFIG_DOC, 'utf8');
    for (const { path, schema } of fields) {
      const section = !path.includes('.') && schema.kind === 'object'; // a heading and its text, not a row
      assert.ok(doc.includes(section ? `## \`${path}\`\n\n${schema.doc}\n` : `| \`${path}\` |`), `${path} is documented`);
      assert.ok(schema.doc.length > 0, `${path} has a description`);
      const leaf = schema.kind !== 'object' && !(schema.kind === 'list' && schema.of.kind === 'object');
      if (!leaf) continue;
      assert.notEqual(schema.example, undefined, `${path} has an example`);
      assert.doesNotThrow(() => validate(schema, schema.example, path, { Err: ConfigError }), `the example of ${path}`);
    }
  });

  it('the example config at the top is valid', () => {
    const cfg = validateConfig(EXAMPLE_CONFIG, '/etc/hub');
    assert.equal(cfg.devices.length, 3);
    assert.equal(cfg.dataDir, '/etc/hub/data');
  });

  it('a field the schema does not know is refused with the list of known ones, at every level', () => {
    for (const [raw, re] of [
      [{ nope: 1 }, /^config\.nope: unknown field \(expected one of: listeners, control,/],
      [{ listeners: { tls: { port: 1, nope: 1 } } }, /^listeners\.tls\.nope: unknown field \(expected one of: port, host, keyFile, certFile, caFile, names\)/],
      [{ devices: [{ id: 'a', subscribe: { nope: [] } }] }, /^devices\[0\]\.subscribe\.nope: unknown field \(expected one of: accept, reject\)/],
      [{ authThrottle: { nope: 1 } }, /^authThrottle\.nope: unknown field/],
    ] as const) {
      assert.throws(() => validateConfig(raw), (e: any) => e instanceof ConfigError && re.test(e.message), JSON.stringify(raw));
    }
  });
});
