import { strict as assert } from 'assert';
import { hashPassword, parsePasswordHash, verifyPassword, verifyPasswordAsync } from '../../host-broker/security/password';

describe('security/password: scrypt hashes', () => {
  it('verifies the right password and refuses a wrong one, sync and async', async () => {
    const h = hashPassword('s3cret');
    assert.match(h, /^scrypt\$16384\$8\$1\$/);
    assert.equal(verifyPassword('s3cret', h), true);
    assert.equal(verifyPassword('s3creT', h), false);
    assert.equal(await verifyPasswordAsync(Buffer.from('s3cret'), h), true);
    assert.equal(await verifyPasswordAsync(Buffer.from('nope'), h), false);
  });

  it('salts: the same password hashes differently each time', () => {
    assert.notEqual(hashPassword('same'), hashPassword('same'));
  });

  it('treats a missing password or a malformed stored hash as a mismatch, never a throw', async () => {
    const h = hashPassword('x');
    assert.equal(verifyPassword(undefined, h), false);
    assert.equal(verifyPassword('x', undefined), false);
    assert.equal(verifyPassword('x', 'plain-text'), false);
    assert.equal(await verifyPasswordAsync('x', 'scrypt$3$8$1$AAAA$AAAA'), false);
  });

  it('names what is wrong with a malformed hash', () => {
    assert.throws(() => parsePasswordHash('md5$abc'), /passwordHash: expected "scrypt\$N\$r\$p\$salt\$key"/);
    assert.throws(() => parsePasswordHash('scrypt$1000$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5'), /N must be a power of two/);
    assert.throws(() => hashPassword(''), /non-empty/);
  });
});
