// Checking an instance's configuration: the connector's own guard, plus the unknown
// keys it would let through, plus the bridge's storeTokens.
import { bridgeError } from './errors.mjs';
import { describeIssue } from './issues.mjs';
import { canStoreTokens } from './metadata.mjs';

// guardKeys lists the keys a zod object guard (or union of them) knows; null when it
// cannot tell.
function guardKeys(guard) {
  let g = guard;
  for (let i = 0; g && i < 8; i++) {
    const def = g._def ?? {};
    if (typeof g.shape === 'object' && g.shape) return Object.keys(g.shape);
    if (def.typeName === 'ZodObject' && typeof def.shape === 'function') return Object.keys(def.shape());
    if (Array.isArray(def.options)) {
      const keys = new Set();
      for (const o of def.options) {
        const k = guardKeys(o);
        if (!k) return null;
        k.forEach((x) => keys.add(x));
      }
      return [...keys];
    }
    g = def.schema ?? def.innerType ?? def.in ?? null;
  }
  return null;
}

// objectShape is the shape (key to guard) of a zod object guard, unwrapped from
// optional, default, effects and the like; null when it is none, or one that takes
// keys it does not name (passthrough, catchall), whose keys cannot be checked.
function objectShape(guard) {
  let g = guard;
  for (let i = 0; g && i < 8; i++) {
    const def = g._def ?? {};
    if (def.typeName === 'ZodObject') {
      if (def.unknownKeys === 'passthrough' || (def.catchall && def.catchall._def?.typeName !== 'ZodNever')) return null;
      const shape = typeof def.shape === 'function' ? def.shape() : g.shape;
      return shape && typeof shape === 'object' ? shape : null;
    }
    g = def.schema ?? def.innerType ?? def.in ?? null;
  }
  return null;
}

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// nestedUnknown reports the keys of value, an object the guard of path takes, that
// the guard does not name, at any depth: zod drops them without a word, so a
// misspelt profileMap key ("Email") configured and then mapped nothing.
function nestedUnknown(guard, value, path, fields) {
  const shape = objectShape(guard);
  if (!shape) return;
  for (const key of Object.keys(value).sort()) {
    const field = `${path}.${key}`;
    if (!Object.hasOwn(shape, key)) {
      const hint = Object.keys(shape).find((k) => k.toLowerCase() === key.toLowerCase());
      fields.push({ field, message: hint ? `unknown field; did you mean ${hint}?` : 'unknown field' });
    } else if (isPlainObject(value[key])) {
      nestedUnknown(shape[key], value[key], field, fields);
    }
  }
}

// isEndpointKey names the settings that hold a URL the connector calls or sends the
// browser to: an OAuth connector's endpoints, an OpenID connector's issuer.
const isEndpointKey = (key) => key.endsWith('Endpoint') || key === 'issuer';

// absoluteHTTP says whether s is an absolute http(s) URL: without its scheme, a
// connector builds a relative redirect, or a request that fails at the first
// sign-in, blamed on the plugin rather than the setting.
function absoluteHTTP(s) {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.host !== '';
  } catch {
    return false;
  }
}

// validate checks config with the connector's own guard plus an unknown-key check. It
// returns the config the connector gets (without the bridge's storeTokens) and whether
// to hand tokens back.
export function validate(c, config, formKeys) {
  const fields = [];
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw bridgeError('invalid_config', 'the configuration must be a JSON object', { fields: [{ field: '', message: 'must be a JSON object' }] });
  }
  const { storeTokens, ...rest } = config;
  if (storeTokens !== undefined && typeof storeTokens !== 'boolean') fields.push({ field: 'storeTokens', message: 'must be true or false' });
  if (storeTokens === true && !canStoreTokens(c)) fields.push({ field: 'storeTokens', message: 'this connector cannot hand tokens back' });
  const known = new Set([...(guardKeys(c.probe.configGuard) ?? Object.keys(rest)), ...formKeys]);
  for (const key of Object.keys(rest).sort()) {
    if (!known.has(key)) {
      const hint = [...known].find((k) => k.toLowerCase() === key.toLowerCase());
      fields.push({ field: key, message: hint ? `unknown field; did you mean ${hint}?` : 'unknown field' });
    }
  }
  const guard = c.probe.configGuard;
  const shape = objectShape(guard);
  for (const key of Object.keys(rest).sort()) {
    if (shape && Object.hasOwn(shape, key) && isPlainObject(rest[key])) nestedUnknown(shape[key], rest[key], key, fields);
    if (isEndpointKey(key) && typeof rest[key] === 'string' && (rest[key] !== rest[key].trim() || !absoluteHTTP(rest[key]))) {
      let message = 'must be an absolute http or https URL';
      if (rest[key] !== rest[key].trim()) message += ', without spaces around it';
      else if (!rest[key].includes('://')) message += ': it has no scheme (write https:// or http:// before the host)';
      fields.push({ field: key, message });
    }
  }
  if (guard && typeof guard.safeParse === 'function') {
    const r = guard.safeParse(rest);
    if (!r.success) {
      for (const issue of r.error.issues) {
        fields.push({ field: issue.path.map(String).join('.') || '(config)', message: describeIssue(issue) });
      }
    }
  }
  if (fields.length > 0) {
    throw bridgeError('invalid_config', fields.map((f) => `${f.field}: ${f.message}`).join('; '), { fields });
  }
  return { config: rest, storeTokens: storeTokens === true };
}
