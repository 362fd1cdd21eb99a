import { strict as assert } from 'assert';
import { assertValidFilter, filterCovers, filtersIntersect } from '../../host-broker/security/filter-algebra';
import { parseTopicPolicy, policyAllowsFilter, policyAllowsTopic } from '../../host-broker/security/topic-policy';

describe('security/filter-algebra', () => {
  const covers: [string, string, boolean][] = [
    ['#', 'a/b', true], ['#', '#', true], ['a/#', 'a', true], ['a/#', 'a/+/c', true], ['a/#', 'a/#', true],
    ['a/+', 'a/b', true], ['a/+', 'a/+', true], ['a/+', 'a/#', false], ['a/+', 'a/b/c', false], ['a/b', 'a/+', false],
    ['+/b', 'x/b', true], ['a/b', 'a/b', true], ['a/b', 'a/c', false], ['a/b/c', 'a/b', false],
    ['#', '$SYS/x', false], ['+/x', '$SYS/x', false], ['$SYS/#', '$SYS/x', true], ['#', '+/x', true],
  ];
  for (const [outer, inner, want] of covers) {
    it(`"${outer}" ${want ? 'covers' : 'does not cover'} "${inner}"`, () => assert.equal(filterCovers(outer, inner), want));
  }
  const meets: [string, string, boolean][] = [
    ['a/#', '#', true], ['a', 'a/#', true], ['a/+', '+/b', true], ['a/b', 'a/c', false], ['a/+', 'a/b/c', false],
    ['#', '$SYS/#', false], ['+/x', '$SYS/x', false], ['$SYS/+', '$SYS/#', true], ['secret/#', '+/pub', true], ['secret/#', 'public/+', false],
    ['secret/#', '+/+', true], ['a/b', 'a/b', true], ['a/b/c', 'a/+', false],
  ];
  for (const [a, b, want] of meets) {
    it(`"${a}" and "${b}" ${want ? 'intersect' : 'are disjoint'} (both orders)`, () => {
      assert.equal(filtersIntersect(a, b), want);
      assert.equal(filtersIntersect(b, a), want);
    });
  }
  it('rejects invalid filters naming the field', () => {
    assert.throws(() => assertValidFilter('a/#/b', 'publish.accept[0]'), /publish\.accept\[0\]: .*'#'/);
    assert.throws(() => assertValidFilter('a+', 'f'), /f: .*'\+'/);
    assert.throws(() => assertValidFilter('', 'f'), /f: .*empty/);
    assert.throws(() => assertValidFilter(3, 'f'), /f: expected a topic filter string/);
  });
});

describe('security/topic-policy', () => {
  it('accept list: only matching topics; reject list wins over accept', () => {
    const p = parseTopicPolicy({ accept: ['dev/d1/#', 'shared/+'], reject: ['dev/d1/secret'] }, 'publish');
    assert.equal(policyAllowsTopic(p, 'dev/d1/temp'), true);
    assert.equal(policyAllowsTopic(p, 'shared/x'), true);
    assert.equal(policyAllowsTopic(p, 'shared/x/y'), false);
    assert.equal(policyAllowsTopic(p, 'dev/d2/temp'), false);
    assert.equal(policyAllowsTopic(p, 'dev/d1/secret'), false);
    assert.equal(policyAllowsTopic(undefined, 'anything'), true);
  });

  it('subscriptions must lie inside an accepted filter and must not reach a rejected one', () => {
    const p = parseTopicPolicy({ reject: ['secret/#'] }, 'subscribe');
    assert.equal(policyAllowsFilter(p, 'public/#'), true);
    assert.equal(policyAllowsFilter(p, '#'), false);
    assert.equal(policyAllowsFilter(p, '+/x'), false);
    assert.equal(policyAllowsFilter(p, 'secret/a'), false);
    const q = parseTopicPolicy({ accept: ['cmd/d1/#'] }, 'subscribe');
    assert.equal(policyAllowsFilter(q, 'cmd/d1/+'), true);
    assert.equal(policyAllowsFilter(q, 'cmd/#'), false);
  });

  it('names the bad field in a policy', () => {
    assert.throws(() => parseTopicPolicy({ allow: [] }, 'devices[0].publish'), /devices\[0\]\.publish\.allow: unknown key/);
    assert.throws(() => parseTopicPolicy({ accept: 'a/#' }, 'p'), /p\.accept: expected an array/);
    assert.throws(() => parseTopicPolicy({ reject: ['ok', 'a/#/b'] }, 'p'), /p\.reject\[1\]/);
    assert.throws(() => parseTopicPolicy([], 'p'), /p: expected an object/);
  });
});
