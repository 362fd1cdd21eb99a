// Topic names and filters (MQTT 3.1.1 section 4.7). Pure and Espruino-safe:
// it ships in the board bundle and the host broker imports it for validation.

// Folded by the firmware build; undefined (so unicode, QoS 2, big strings possible)
// when the host broker imports this file.
declare const BOARD_UNICODE: boolean;
declare const FEATURE_QOS2: boolean;
declare const BOARD_VARS: number;
declare const BOARD_VAR_BYTES: number;

/** UTF-8 byte length of a JS (UTF-16) string; a surrogate pair counts 4. */
const utf8Length = (s: string) => {
  let n = s.length;
  let i = 0;
  let c: number;
  for (; i < s.length; i++) {
    c = s.charCodeAt(i);
    // 0x80..0x7FF take 2 bytes, the rest of the BMP 3; each half of a surrogate pair adds 1 (2+2 = 4).
    if (c > 127) n += c > 2047 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
};

/**
 * null if `s` is a valid topic name (kind 'topic') or subscription filter (kind
 * 'filter') and `qos` is one this build supports, else a message naming the problem,
 * starting with `kind` for the string. Shared by both checks so the board carries the
 * messages once; the board's client calls it directly (on the board every function
 * costs RAM, so the QoS check lives here rather than in one more).
 */
export const check = (s: string, kind: 'topic' | 'filter', qos: any) => {
  const maxQos = typeof FEATURE_QOS2 != 'undefined' && !FEATURE_QOS2 ? 1 : 2;
  const w = /[+#]/.exec(s);
  const m = s + '' !== s || !s ? ' is empty'
    : ~s.indexOf('\0') ? ' contains U+0000'
    // Bytes on the wire: ESP builds hold strings as raw UTF-8 bytes already. A board whose
    // whole RAM holds less than 64 KB of string cannot have such a topic: no check there.
    : (typeof BOARD_VARS == 'undefined' || BOARD_VARS * (BOARD_VAR_BYTES - 4) > 65535)
      && (typeof BOARD_UNICODE != 'undefined' && !BOARD_UNICODE ? s.length : utf8Length(s)) > 65535 ? ' over 65535 bytes'
    : kind == 'topic' ? w && " contains wildcard '" + w[0] + "'"
    // A wildcard after anything but '/', a '+' before anything but '/', or a '#' before
    // anything at all is not a whole level, or not the last [MQTT-4.7.1-2] [MQTT-4.7.1-3].
    : /[^\/][+#]|\+[^\/]|#./.test(s) && ": '+' and '#' must be whole levels, '#' last";
  return m ? kind + m : qos !== (qos & 3) || qos > maxQos ? 'qos must be 0..' + maxQos : null;
};

/** null if `name` is a valid topic name to publish to, else a message naming the problem. */
export const checkTopic = (name: string): string | null => check(name, 'topic', 0);

/** null if `filter` is a valid subscription filter, else a message naming the problem. */
export const checkFilter = (filter: string): string | null => check(filter, 'filter', 0);

/**
 * Whether `topic` matches subscription `filter` ('+' one level, '#' this level and
 * all below). Topics starting with '$' are not matched by a leading wildcard [MQTT-4.7.2-1].
 */
export const topicMatches = (filter: string, topic: string): boolean => {
  const f = filter.split('/');
  const t = topic.split('/');
  let i = 0;
  if (topic[0] == '$' && /^[+#]/.test(filter)) return false;
  // Level by level up to a '#' (which matches the rest, even nothing). Where either side has
  // run out, or a level differs (and is not '+'), they match only if both ran out together.
  for (; f[i] != '#'; i++) if (t[i] == null || (f[i] != '+' && f[i] != t[i])) return f[i] == t[i];
  return true;
};
