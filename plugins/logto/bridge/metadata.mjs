// A connector's metadata in idplug's shape (sdk.Metadata's JSON): form items, logos
// and readme read from its package, and the storeTokens switch the bridge adds.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const mimeTypes = { '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif' };

// logoURL turns a connector's "./logo.svg" into a data URL; a URL stays as it is.
function logoURL(dir, ref) {
  if (!ref) return '';
  if (/^(https?:|data:)/.test(ref)) return ref;
  const file = path.resolve(dir, ref);
  if (!file.startsWith(dir + path.sep) || !existsSync(file)) return '';
  const type = mimeTypes[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  return `data:${type};base64,${readFileSync(file).toString('base64')}`;
}

function textFile(dir, ref) {
  if (!ref) return '';
  const file = path.resolve(dir, ref);
  if (!file.startsWith(dir + path.sep) || !existsSync(file)) return '';
  return readFileSync(file, 'utf8');
}

// Keys whose values are secrets: masked in forms, never repeated in messages.
const secretKey = /(secret|password|passphrase|private.?key|api.?key|access.?key|access.?token|signing.?key|credential)/i;

// ...but not the names of algorithms, methods or ids that mention a secret.
const notSecretKey = /(algorithm|method|type|id|endpoint|uri|url)$/i;

const formTypes = new Set(['Text', 'MultilineText', 'Number', 'Switch', 'Select', 'MultiSelect', 'Json']);

function formItem(item) {
  const out = { key: String(item.key), label: String(item.label ?? item.key), type: formTypes.has(item.type) ? item.type : 'Text' };
  if (item.required) out.required = true;
  if (item.placeholder) out.placeholder = String(item.placeholder);
  if (item.defaultValue !== undefined) out.defaultValue = item.defaultValue;
  if (item.description) out.description = String(item.description);
  if (item.tooltip) out.tooltip = String(item.tooltip);
  if (item.isConfidential || (secretKey.test(item.key) && !notSecretKey.test(item.key))) out.isConfidential = true;
  if (Array.isArray(item.selectItems)) out.selectItems = item.selectItems.map((s) => ({ value: String(s.value), title: String(s.title ?? s.value) }));
  if (Array.isArray(item.showConditions)) out.showConditions = item.showConditions.map((c) => ({ targetKey: String(c.targetKey), expectValue: c.expectValue }));
  return out;
}

// The form item the bridge adds when the connector can hand tokens back (Logto keeps
// this switch on the connector record, outside the connector's config).
const storeTokensItem = {
  key: 'storeTokens',
  label: 'Store tokens',
  type: 'Switch',
  defaultValue: false,
  description: "Hand the provider's tokens back with the profile, for the token vault.",
};

export function canStoreTokens(c) {
  return Boolean(c.probe.metadata?.isTokenStorageSupported && typeof c.probe.getTokenResponseAndUserInfo === 'function');
}

// describe returns the metadata in idplug's shape (sdk.Metadata's JSON).
export function describe(c) {
  const m = c.probe.metadata ?? {};
  const items = (m.formItems ?? []).map(formItem);
  if (canStoreTokens(c) && !items.some((i) => i.key === storeTokensItem.key)) items.push(storeTokensItem);
  const platform = ['Universal', 'Web', 'Native'].includes(m.platform) ? m.platform : '';
  return {
    id: String(m.id ?? ''),
    target: String(m.target ?? ''),
    platform,
    name: m.name ?? {},
    description: m.description ?? {},
    logo: logoURL(c.dir, m.logo),
    logoDark: logoURL(c.dir, m.logoDark),
    readme: textFile(c.dir, m.readme),
    isStandard: Boolean(m.isStandard),
    formItems: items,
    configTemplate: textFile(c.dir, m.configTemplate),
    // Not part of sdk.Metadata: what the plugin and the docs want to know.
    connectorType: c.probe.type ?? '',
    package: c.pkg,
    version: c.version,
    tokens: canStoreTokens(c),
    refresh: typeof c.probe.getAccessTokenByRefreshToken === 'function',
  };
}
