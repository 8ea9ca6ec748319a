// Integers a provider sent that JavaScript numbers cannot hold: 9007199254740993 is
// read as 9007199254740992 by every JSON.parse a connector makes (ky's, got's,
// Logto's connector kit), so a numeric user id above 2^53 became another user's id
// (some 2048 ids of 64 bits each read as the same number). The bridge cannot give
// the connector the digits it lost; it notes, per call, the numbers read inexactly,
// and results.mjs refuses a profile whose id is one of them.
//
// Importing this module replaces JSON.parse; the entry file imports it before any
// connector is loaded (got keeps the JSON.parse it finds when it is first imported).
import { calls } from './provider-http.mjs';

const parse = JSON.parse;
// Only a text with a run of 16 digits can hold such a number (2^53 has 16); any
// other is parsed as it was, with no reviver.
const longDigits = /\d{16}/;
// A bounded number of them is kept per call; past it, every id that reads as an
// integer past 2^53 counts as inexact (an answer padded with such numbers must not
// push the id's out of the count).
const maxNoted = 64;

JSON.parse = function parseNotingInexact(text, reviver) {
  const store = calls.getStore();
  if (!store || !longDigits.test(String(text))) return parse(text, reviver);
  return parse(text, function note(key, value, context) {
    if (typeof value === 'number' && inexact(value, context?.source)) {
      store.inexact ??= new Set();
      store.sources ??= new Map();
      const n = String(value);
      if (store.inexact.size < maxNoted) {
        store.inexact.add(n);
        // The digits it was read from, for exactNumbers; two literals read as
        // one number leave it without (which of them a value is, is lost).
        const known = store.sources.get(n);
        store.sources.set(n, known === undefined || known === context?.source ? context?.source : null);
      } else store.inexactMany = true;
    }
    return typeof reviver === 'function' ? reviver.call(this, key, value, context) : value;
  });
};

// inexact says whether the integer literal source was read as another number. A
// literal with a fraction or an exponent was written as a float, not as an id.
// Without the source (a Node that does not give it), every integer past 2^53 counts.
function inexact(value, source) {
  if (!Number.isInteger(value) || Number.isSafeInteger(value)) return false;
  if (typeof source !== 'string') return true;
  return /^-?\d+$/.test(source) && BigInt(source) !== BigInt(value);
}

// inexactNumber says whether id is the text of a number this call read inexactly.
export function inexactNumber(id) {
  const store = calls.getStore();
  if (!store?.inexact) return false;
  if (store.inexact.has(id)) return true;
  const n = Number(id);
  return Boolean(store.inexactMany) && Number.isInteger(n) && !Number.isSafeInteger(n);
}

// exactNumbers is raw (a profile's rawData) with each integer this call read
// inexactly written back with the digits the provider sent (JSON.rawJSON), or
// left out where they are not known (two literals read as one number, or more
// than maxNoted of them): a mapping reading raw.org == 9007199254740992 would
// otherwise let in the users of org ...993 too. Walked to maxDepth; deeper
// values are kept as they are (the host's decoder reads at most that deep
// anyway before it gives up on the document).
export function exactNumbers(raw) {
  const store = calls.getStore();
  if (!store?.inexact) return raw;
  const walk = (v, depth) => {
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v) || !Number.isInteger(v)) return v;
      const n = String(v);
      if (!store.inexact.has(n) && !store.inexactMany) return v;
      const source = store.sources?.get(n);
      return typeof source === 'string' && typeof JSON.rawJSON === 'function' ? JSON.rawJSON(source) : undefined;
    }
    if (v === null || typeof v !== 'object' || depth >= maxDepth) return v;
    if (Array.isArray(v)) return v.map((e) => walk(e, depth + 1)).filter((e) => e !== undefined);
    const out = {};
    for (const [k, e] of Object.entries(v)) {
      const kept = walk(e, depth + 1);
      if (kept !== undefined) out[k] = kept;
    }
    return out;
  };
  return walk(raw, 0);
}

const maxDepth = 64;
