// Keeping secrets out of what the bridge says: query strings, and every value a call
// carried that may be one.

// scrub drops query strings of URLs, and every value the call carried that may be a
// secret (configuration, callback, session), from text.
export function scrub(text, secrets) {
  let s = String(text ?? '');
  // Each secret becomes a mark no later one can match, and the marks become
  // [redacted] at the end: a short value found inside an earlier [redacted]
  // had cut it up ("[red[redacted]ed]"). Over the whole text, before any cut:
  // a value cut in two is no longer found.
  for (const v of secrets) {
    if (v.length >= 3 && !v.includes(mark)) s = s.split(v).join(mark);
  }
  // What is said is cut to 300 characters below: the URL pass reads no more
  // than maxScrubbed of it (a 4 MiB message held the event loop, which every
  // instance of the connector shares).
  s = s.slice(0, maxScrubbed).replace(urlPattern, (url) => url.replace(/[?#].*$/s, ''));
  s = s.replaceAll(mark, '[redacted]').replace(/[?]/g, '');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

// urlPattern finds a URL whole, its query and fragment then cut off. A match
// starts only where no scheme character comes before it, and runs to the
// URL's end: an expression that stopped at the query and backtracked from
// each letter of a long run had held Node for seconds on 64 KB of a
// callback's value, and a run of "a://" repeated still scanned to the end
// from each scheme.
const urlPattern = /(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*/gi;

// maxScrubbed bounds the text the URL pass reads.
const maxScrubbed = 16384;

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
