import { strict as assert } from 'assert';
import { filterCovers } from '../../host-broker/security/filter-algebra';
import { parseTopicPolicy, policyAllowsDelivery, policyAllowsFilter, policyAllowsTopic } from '../../host-broker/security/topic-policy';

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
  it('a policy refuses invalid filters naming the field', () => {
    assert.throws(() => parseTopicPolicy({ accept: ['a/#/b'] }, 'publish'), /publish\.accept\[0\]: .*'#'.*\(in "a\/#\/b"\)/);
    assert.throws(() => parseTopicPolicy({ reject: ['ok', 'a+'] }, 'f'), /f\.reject\[1\]: .*'\+'/);
    assert.throws(() => parseTopicPolicy({ accept: [''] }, 'f'), /f\.accept\[0\]: expected a non-empty string/);
    assert.throws(() => parseTopicPolicy({ accept: [3] }, 'f'), /f\.accept\[0\]: expected a non-empty string, got 3/);
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

  it('a subscription is refused only when it lies wholly inside a rejected filter; one that overlaps is granted and each message is checked', () => {
    const p = parseTopicPolicy({ reject: ['secret/#', 'test/nosubscribe'] }, 'subscribe');
    assert.equal(policyAllowsFilter(p, 'public/#'), true);
    assert.equal(policyAllowsFilter(p, '#'), true, 'a monitor on # is granted');
    assert.equal(policyAllowsFilter(p, '+/x'), true);
    assert.equal(policyAllowsFilter(p, 'test/+'), true);
    assert.equal(policyAllowsFilter(p, 'secret/a'), false);
    assert.equal(policyAllowsFilter(p, 'secret/+/b'), false);
    assert.equal(policyAllowsFilter(p, 'secret/#'), false);
    assert.equal(policyAllowsFilter(p, 'test/nosubscribe'), false);
    assert.equal(policyAllowsDelivery(p, 'public/a'), true);
    assert.equal(policyAllowsDelivery(p, 'secret'), false, "'secret/#' also matches its parent level");
    assert.equal(policyAllowsDelivery(p, 'secret/a/b'), false);
    assert.equal(policyAllowsDelivery(p, 'test/nosubscribe'), false);
    assert.equal(policyAllowsDelivery(p, 'test/other'), true);
  });

  it('with an accept list, a subscription must lie wholly inside an accepted filter', () => {
    const q = parseTopicPolicy({ accept: ['cmd/d1/#'], reject: ['cmd/d1/admin'] }, 'subscribe');
    assert.equal(policyAllowsFilter(q, 'cmd/d1/+'), true);
    assert.equal(policyAllowsFilter(q, 'cmd/d1/#'), true, 'overlaps the rejected topic: granted, checked per message');
    assert.equal(policyAllowsFilter(q, 'cmd/#'), false);
    assert.equal(policyAllowsFilter(q, '#'), false);
    assert.equal(policyAllowsFilter(q, 'cmd/d1/admin'), false);
    assert.equal(policyAllowsDelivery(q, 'cmd/d1/go'), true);
    assert.equal(policyAllowsDelivery(q, 'cmd/d1/admin'), false);
    assert.equal(policyAllowsDelivery(q, 'cmd/d2/go'), false);
  });

  it('the hub\'s topics ($hub/..., $SYS/...) are reached only through an accept filter that names them; other $ topics follow the policy', () => {
    for (const p of [undefined, parseTopicPolicy({ reject: ['x/#'] }, 's'), parseTopicPolicy({ accept: ['#'] }, 's')]) {
      for (const f of ['$hub/events/#', '$hub/#', '$hub/events/warning/device/d1']) assert.equal(policyAllowsFilter(p, f), false, `${JSON.stringify(p)} ${f}`);
      assert.equal(policyAllowsDelivery(p, '$hub/events/warning/device/d1'), false);
    }
    assert.equal(policyAllowsFilter(undefined, '$SYS/#'), false, '$SYS (the hub\'s counters) is the hub\'s too');
    assert.equal(policyAllowsFilter(undefined, '$SYS/broker/clients/connected'), false);
    assert.equal(policyAllowsDelivery(undefined, '$SYS/broker/uptime'), false);
    assert.equal(policyAllowsFilter(parseTopicPolicy({ accept: ['$SYS/#'] }, 's'), '$SYS/broker/uptime'), true);
    assert.equal(policyAllowsFilter(undefined, '$share/group/t'), true, 'no policy: other $ filters are not the hub\'s');
    assert.equal(policyAllowsFilter(parseTopicPolicy({ accept: ['#'] }, 's'), '$SYS/#'), false, "'#' does not cover $ topics [MQTT-4.7.2-1]");
    const monitor = parseTopicPolicy({ accept: ['$hub/events/#', '#'] }, 's');
    assert.equal(policyAllowsFilter(monitor, '$hub/events/#'), true);
    assert.equal(policyAllowsFilter(monitor, '$hub/events/+/device/#'), true);
    assert.equal(policyAllowsFilter(monitor, '$hub/#'), false, 'wider than what it accepts');
    assert.equal(policyAllowsFilter(monitor, '#'), true);
    assert.equal(policyAllowsDelivery(monitor, '$hub/events/warning/device/d1'), true);
    assert.equal(policyAllowsDelivery(monitor, '$hub/other'), false);
    assert.equal(policyAllowsDelivery(monitor, 'devices/d1/temp'), true);
  });

  it('hub topics elsewhere (a custom events prefix without $): "#" is granted and never delivers them', () => {
    const hubTopics = ['$hub/#', 'hub/events/#'];
    assert.equal(policyAllowsFilter(undefined, 'hub/events/#', hubTopics), false);
    assert.equal(policyAllowsFilter(undefined, '#', hubTopics), true);
    assert.equal(policyAllowsDelivery(undefined, 'hub/events/warning/device/d1', hubTopics), false);
    assert.equal(policyAllowsDelivery(undefined, 'hub/other', hubTopics), true);
    assert.equal(policyAllowsDelivery(parseTopicPolicy({ accept: ['hub/events/#'] }, 's'), 'hub/events/warning/device/d1', hubTopics), true);
  });

  it('names the bad field in a policy', () => {
    assert.throws(() => parseTopicPolicy({ allow: [] }, 'devices[0].publish'), /devices\[0\]\.publish\.allow: unknown field \(expected one of: accept, reject\)/);
    assert.throws(() => parseTopicPolicy({ accept: 'a/#' }, 'p'), /p\.accept: expected an array/);
    assert.throws(() => parseTopicPolicy({ reject: ['ok', 'a/#/b'] }, 'p'), /p\.reject\[1\]/);
    assert.throws(() => parseTopicPolicy([], 'p'), /p: expected an object/);
  });
});
