// Keeping secrets out of what the bridge says: query strings, and every value a call
// carried that may be one.

// scrub drops query strings of URLs, and every value the call carried that may be a
// secret (configuration, callback, session), from text.
export function scrub(text, secrets) {
  let s = String(text ?? '');
  s = s.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s"'?#<>]*)[?#][^\s"'<>]*/gi, '$1');
  // Each secret becomes a mark no later one can match, and the marks become
  // [redacted] at the end: a short value found inside an earlier [redacted]
  // had cut it up ("[red[redacted]ed]").
  for (const v of secrets) {
    if (v.length >= 3 && !v.includes(mark)) s = s.split(v).join(mark);
  }
  s = s.replaceAll(mark, '[redacted]').replace(/[?]/g, '');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

// mark stands for a secret while scrub works: a private-use character, which
// no text the bridge passes on means anything by.
const mark = '\uE000';

export function secretsOf(...objs) {
  const out = new Set();
  const walk = (v, depth) => {
    if (depth > 4 || v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (v.length >= 3) {
        out.add(v);
        out.add(encodeURIComponent(v));
        out.add(JSON.stringify(v).slice(1, -1));
      }
    } else if (typeof v === 'object') {
      for (const x of Object.values(v)) walk(x, depth + 1);
    }
  };
  objs.forEach((o) => walk(o, 0));
  // Longest first, so a value containing another is removed whole.
  return [...out].sort((a, b) => b.length - a.length);
}
