// A hub with a bridge still loads neither mqtt-packet nor ws (bin/README.md: they
// are loaded only when needed): the bridge link runs on the hub's own codec, and
// ws is required only for a ws:// or wss:// bridge. Checked on the compiled hub.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from './fixtures';

const ROOT = path.join(__dirname, '..', '..');

describe('bridges: what a hub with bridges loads', function () {
  this.timeout(120_000);

  it('an mqtt:// bridge loads neither mqtt-packet nor ws; a ws:// one loads ws only', () => {
    assert.equal(spawnSync(process.execPath, ['bin/build-host.cjs'], { cwd: ROOT, encoding: 'utf8' }).status, 0);
    const dir = tempDir('bridge-load-');
    try {
      const loaded = (url: string): string[] => {
        const script = `
          const { startHub } = require('./build/host-broker/start-hub.js');
          const { validateConfig } = require('./build/host-broker/config.js');
          startHub(validateConfig({ listeners: { tcp: { port: 0 } }, memory: true, dataDir: ${JSON.stringify(dir)},
            bridges: [{ name: 'b', url: ${JSON.stringify(url)}, reconnect: { initialMs: 50, maxMs: 100 }, mappings: [{ direction: 'both', filter: 'x/#' }] }] }))
            .then(async (hub) => {
              await new Promise((r) => setTimeout(r, 300)); // a few connect attempts
              console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](mqtt-packet|ws)[\\\\/]/.test(k)).map((k) => k.match(/node_modules[\\\\/](mqtt-packet|ws)[\\\\/]/)[1])));
              await hub.close();
            });`;
        const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
        assert.equal(r.status, 0, r.stderr);
        return [...new Set(JSON.parse(r.stdout.trim().split('\n').pop()!) as string[])];
      };
      assert.deepEqual(loaded('mqtt://127.0.0.1:1'), []);
      assert.deepEqual(loaded('ws://127.0.0.1:1/mqtt'), ['ws']);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});
