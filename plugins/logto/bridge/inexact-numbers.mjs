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
      if (store.inexact.size < maxNoted) store.inexact.add(String(value));
      else store.inexactMany = true;
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
