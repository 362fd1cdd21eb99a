// kill -9 at random moments under QoS 1/2 load (a few cycles in CI; `npm run
// soak` does at least 20): nothing the broker acknowledged is lost, no QoS 2
// message is delivered twice.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { kill9Run } from './support/kill9';

describe('reliability: broker kill -9 under QoS 1/2 load', function () {
  this.timeout(90000);
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k9-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('3 kills: every acknowledged message delivered, QoS 2 exactly once', async () => {
    const res = await kill9Run(dir, 3, 0x91119);
    assert.ok(res.acknowledged > 0, 'the load got messages acknowledged before the kills');
    assert.deepEqual(res.missing, [], `acknowledged but never delivered (of ${res.acknowledged})`);
    assert.deepEqual(res.qos2Twice, [], 'QoS 2 messages delivered twice');
  });
});
