// Topic validation and matching (MQTT 3.1.1 section 4.7), on the TS source the broker imports.
import { strict as assert } from 'assert';
import { checkFilter, checkTopic, topicMatches } from '../../firmware/topic';

describe('firmware topic', () => {
  describe('topicMatches', () => {
    const cases: [string, string, boolean][] = [
      ['a/b', 'a/b', true],
      ['a/b', 'a/c', false],
      ['a/+/c', 'a/b/c', true],
      ['a/+/c', 'a/b/d', false],
      ['a/+', 'a/b/c', false],
      ['+', 'a', true],
      ['+', 'a/b', false],
      ['+/+', '/a', true], // [MQTT-4.7.1-3] empty levels count
      ['a/#', 'a', true], // [MQTT-4.7.1-2] '#' matches the parent level too
      ['a/#', 'a/b/c', true],
      ['#', 'a/b', true],
      ['a/b/#', 'a/c', false],
      ['a/b', 'a/b/c', false],
      ['a/b/c', 'a/b', false],
      ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
      ['+/x', '$SYS/x', false], // [MQTT-4.7.2-1]
      ['$SYS/#', '$SYS/x', true],
      ['$SYS/+', '$SYS/x', true],
      ['a/+/#', 'a/b', true],
      ['sport/tennis/+', 'sport/tennis/player1', true],
    ];
    for (const [f, t, want] of cases) {
      it(`${JSON.stringify(f)} ${want ? 'matches' : 'does not match'} ${JSON.stringify(t)}`, () => {
        assert.equal(topicMatches(f, t), want);
      });
    }
  });

  describe('checkTopic', () => {
    it('accepts ordinary names, including "/" alone and unicode', () => {
      for (const t of ['a', '/', 'a/b/c', 'a//b', '$SYS/x', 'température/é', '😀']) assert.equal(checkTopic(t), null);
    });
    it('[MQTT-4.7.3-1] refuses the empty topic', () => assert.equal(checkTopic(''), 'topic is empty'));
    it('[MQTT-3.3.2-2] refuses wildcards in a topic name', () => {
      assert.equal(checkTopic('a/+'), "topic contains wildcard '+'");
      assert.equal(checkTopic('a/#'), "topic contains wildcard '#'");
    });
    it('[MQTT-4.7.3-2] refuses U+0000', () => assert.equal(checkTopic('a\u0000b'), 'topic contains U+0000'));
    it('[MQTT-4.7.3-3] refuses more than 65535 bytes of UTF-8, counting bytes not chars', () => {
      assert.equal(checkTopic('a'.repeat(65535)), null);
      assert.equal(checkTopic('a'.repeat(65536)), 'topic over 65535 bytes');
      assert.equal(checkTopic('é'.repeat(32767) + 'a'), null); // 65535 bytes
      assert.equal(checkTopic('é'.repeat(32768)), 'topic over 65535 bytes'); // 65536 bytes
      assert.equal(checkTopic('€'.repeat(21845)), null); // 3 bytes each: 65535
      assert.equal(checkTopic('€'.repeat(21845) + 'a'), 'topic over 65535 bytes');
      assert.equal(checkTopic('😀'.repeat(16383) + 'aaa'), null); // 4 bytes each: 65535
      assert.equal(checkTopic('😀'.repeat(16384)), 'topic over 65535 bytes');
    });
    it('refuses a non-string', () => assert.equal(checkTopic(undefined as any), 'topic is empty'));
  });

  describe('checkFilter', () => {
    it('accepts valid filters [MQTT-4.7.1-2] [MQTT-4.7.1-3]', () => {
      for (const f of ['#', '+', 'a/#', 'a/+/b', '+/+', '/+', '+/', 'a/b', '$SYS/#', '/']) assert.equal(checkFilter(f), null, f);
    });
    it('[MQTT-4.7.1-2] refuses a "#" that is not last or not alone', () => {
      for (const f of ['a/#/b', 'a#', 'a/b#', '#/a', '##']) assert.equal(checkFilter(f), "filter: '+' and '#' must be whole levels, '#' last", f);
    });
    it('[MQTT-4.7.1-3] refuses a "+" not alone in its level', () => {
      for (const f of ['a+', 'a/+b', '++', 'a/b+/c']) assert.equal(checkFilter(f), "filter: '+' and '#' must be whole levels, '#' last", f);
    });
    it('[MQTT-4.7.3-1] [MQTT-4.7.3-2] refuses empty and U+0000', () => {
      assert.equal(checkFilter(''), 'filter is empty');
      assert.equal(checkFilter('a/\u0000'), 'filter contains U+0000');
    });
    it('[MQTT-4.7.3-3] refuses more than 65535 bytes', () => {
      assert.equal(checkFilter('a/'.repeat(32767) + '#'), null);
      assert.equal(checkFilter('a/'.repeat(32768) + '#'), 'filter over 65535 bytes');
    });
  });
});
