// The relation between two MQTT topic filters that a policy needs and plain
// topic matching does not give: does filter F admit every topic filter S admits
// (covers)?
// The `$` rule holds throughout: a leading `+` or `#` never matches a topic
// whose first level starts with `$` [MQTT-4.7.2-1].

function isDollar(level: string | undefined): boolean {
  return level !== undefined && level !== '+' && level !== '#' && level.charAt(0) === '$';
}

/** Every topic that `inner` matches is also matched by `outer`. */
export function filterCovers(outer: string, inner: string): boolean {
  const f = outer.split('/');
  const s = inner.split('/');
  for (let i = 0; ; i++) {
    if (i >= f.length) return i >= s.length;
    if (f[i] === '#') return !(i === 0 && isDollar(s[0]));
    if (i >= s.length) return false; // outer has more fixed levels than inner
    if (s[i] === '#') return false; // inner admits any depth; only '#' (handled above) covers it
    if (f[i] === '+') {
      if (i === 0 && isDollar(s[0])) return false;
      continue;
    }
    if (f[i] !== s[i]) return false; // literal vs different literal, or literal vs '+'
  }
}
