// Keeping secrets out of what the bridge says: query strings, and every value a call
// carried that may be one.

// scrub drops query strings of URLs, and every value the call carried that may be a
// secret (configuration, callback, session), from text.
export function scrub(text, secrets) {
  // What is said is cut to 300 characters below: more than maxScrubbed of it is
  // never worth the work (a 4 MiB message would hold the event loop, which every
  // instance of the connector shares, for each pass over it).
  let s = String(text ?? '').slice(0, maxScrubbed);
  // A URL starts where no scheme character comes before it: without the
  // lookbehind, a long run of letters started a match at each one, each read to
  // the run's end (64 KB of a callback's value held Node for seconds).
  s = s.replace(/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s"'?#<>]*)[?#][^\s"'<>]*/gi, '$1');
  // Each secret becomes a mark no later one can match, and the marks become
  // [redacted] at the end: a short value found inside an earlier [redacted]
  // had cut it up ("[red[redacted]ed]").
  for (const v of secrets) {
    if (v.length >= 3 && !v.includes(mark)) s = s.split(v).join(mark);
  }
  s = s.replaceAll(mark, '[redacted]').replace(/[?]/g, '');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

// maxScrubbed bounds the text scrub reads. A secret cut in two at that point
// is far past the 300 characters it says.
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
