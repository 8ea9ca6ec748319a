// The connector objects of the instances the host configured, and their release.
import { validate } from './config.mjs';

// One connector object per instance and configuration version, as Logto makes one per
// connector record.
const instances = new Map();

export async function instance(c, formKeys, req) {
  const have = instances.get(req.instance);
  if (have && have.version === req.version) return have.ready;
  // Calls that arrive together for a new version share one connector object.
  const entry = { version: req.version };
  entry.ready = (async () => {
    const { config, storeTokens } = validate(c, req.config, formKeys);
    const connector = await c.create({ getConfig: async () => config });
    return { connector, config, storeTokens };
  })();
  instances.set(req.instance, entry);
  entry.ready.catch(() => {
    if (instances.get(req.instance) === entry) instances.delete(req.instance);
  });
  return entry.ready;
}

// release drops the connector objects of an instance whose configuration the host let
// go: the instance's own, and the one refreshes made with that configuration. A newer
// version of the same instance stays. The answer names what went, for the plugin's log
// (the bridge's stderr does not reach the host's).
export function release(req) {
  const dropped = [];
  const have = instances.get(req.instance);
  if (have && have.version === req.version) {
    instances.delete(req.instance);
    dropped.push(req.instance);
  }
  const refreshKey = `refresh:${req.version}`;
  const refresher = instances.get(refreshKey);
  if (refresher && refresher.version === req.version) {
    instances.delete(refreshKey);
    dropped.push('refresh');
  }
  if (dropped.length > 0) process.stderr.write(`bridge: released instance ${String(req.instance).slice(0, 64)}\n`);
  return { dropped };
}
