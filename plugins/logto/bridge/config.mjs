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
