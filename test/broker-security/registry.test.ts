import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Database from 'better-sqlite3';
import { DeviceRegistry } from '../../host-broker/security/device-registry';
import { verifyPassword } from '../../host-broker/security/password';

describe('security/device-registry (SQLite)', () => {
  let reg: DeviceRegistry;
  beforeEach(() => { reg = new DeviceRegistry({ file: ':memory:' }); });
  afterEach(() => reg.close());

  it('adds a device with a hashed password and finds it by username', () => {
    const d = reg.add({ id: 'd1', name: 'Kitchen', username: 'kitchen', password: 'pw1' });
    assert.deepEqual([d.id, d.name, d.enabled, d.allowInsecure, d.hasPassword, d.certCN], ['d1', 'Kitchen', true, true, true, 'd1']);
    assert.equal((d as any).passwordHash, undefined, 'the hash is not part of the public record');
    const hash = reg.passwordHashOf('d1')!;
    assert.notEqual(hash, 'pw1');
    assert.equal(verifyPassword('pw1', hash), true);
    assert.equal(reg.findByUsername('kitchen')!.id, 'd1');
    assert.equal(reg.findByUsername('nobody'), undefined);
  });

  it('refuses bad input with the field named, and keeps usernames unique', () => {
    assert.throws(() => reg.add({ id: 'bad id' }), /^Error: id: expected/);
    assert.throws(() => reg.add({ id: 'd1', password: 'x' }), /username: a device with a password needs a username/);
    assert.throws(() => reg.add({ id: 'd1', allowInsecure: 'no' as any }), /allowInsecure: expected true or false/);
    assert.throws(() => reg.add({ id: 'd1', certFingerprint: 'abc' }), /certFingerprint: expected a SHA-256/);
    assert.throws(() => reg.add({ id: 'd1', publish: { accept: ['a/#/b'] } }), /publish\.accept\[0\]/);
    reg.add({ id: 'd1', username: 'u' });
    assert.throws(() => reg.add({ id: 'd1' }), /device d1 already exists/);
    assert.throws(() => reg.add({ id: 'd2', username: 'u' }), /username: already used by another device/);
    assert.equal(reg.list().length, 1);
  });

  it('updates, enables/disables and removes; revision changes on every write', () => {
    reg.add({ id: 'd1', username: 'u', password: 'p', publish: { accept: ['d1/#'] } });
    const r0 = reg.revision();
    const d = reg.setEnabled('d1', false);
    assert.equal(d.enabled, false);
    assert.notEqual(reg.revision(), r0);
    const u = reg.update('d1', { name: 'renamed', subscribe: { reject: ['#'] }, publish: null });
    assert.equal(u.name, 'renamed');
    assert.equal(u.publish, undefined);
    assert.deepEqual(u.subscribe, { reject: ['#'] });
    assert.equal(u.hasPassword, true, 'a patch without password keeps the old one');
    assert.throws(() => reg.update('nope', {}), /device nope does not exist/);
    assert.equal(reg.remove('d1'), true);
    assert.equal(reg.get('d1'), undefined);
  });

  it('finds a device by pinned certificate fingerprint, else by CN when nothing is pinned', () => {
    const fp = 'AB:'.repeat(31) + 'CD';
    reg.add({ id: 'pinned', certFingerprint: fp.toLowerCase().replace(/:/g, '') });
    reg.add({ id: 'bycn' });
    assert.equal(reg.get('pinned')!.certFingerprint, fp, 'normalised to the upper-case colon form');
    assert.equal(reg.findByCertificate({ fingerprint256: fp, subjectCN: 'whatever' })!.id, 'pinned');
    assert.equal(reg.findByCertificate({ subjectCN: 'pinned' }), undefined, 'pinned: the CN alone is not enough');
    assert.equal(reg.findByCertificate({ subjectCN: 'bycn' })!.id, 'bycn');
    assert.equal(reg.findByCertificate({ subjectCN: 'other' }), undefined);
  });

  it('persists in its own file, and sees changes made by another handle (the CLI) on the same file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reg-'));
    try {
      const a = new DeviceRegistry({ dataDir: dir });
      a.add({ id: 'd1' });
      const r = a.revision();
      const b = new DeviceRegistry({ dataDir: dir });
      b.setEnabled('d1', false);
      b.close();
      assert.equal(a.revision(), r, 'another handle\'s write is read once per synchronous run (it costs a SQLite call)');
      await Promise.resolve();
      assert.notEqual(a.revision(), r, 'a write from another connection changes the revision');
      assert.equal(a.get('d1')!.enabled, false);
      a.close();
      const c = new DeviceRegistry({ file: path.join(dir, 'devices.db') });
      assert.equal(c.list().length, 1);
      c.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('works on a Database handle the caller gives, and leaves it open', () => {
    const db = new Database(':memory:');
    const r = new DeviceRegistry({ db });
    r.add({ id: 'x' });
    r.close();
    assert.equal(db.open, true);
    assert.equal((db.prepare('SELECT count(*) AS n FROM hub_devices').get() as any).n, 1);
    db.close();
  });
});
