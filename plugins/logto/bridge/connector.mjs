// Loading a connector package from this bundle, as Logto's CLI loader does.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The bridge's modules sit at the bundle's top, beside node_modules.
export const bundleDir = path.dirname(fileURLToPath(import.meta.url));

export async function loadConnector(pkg) {
  if (!/^@logto\/connector-[a-z0-9-]+$/.test(pkg)) {
    throw new Error(`not a Logto connector package name: ${pkg}`);
  }
  // Packages are looked up in this bundle only.
  const dir = path.join(bundleDir, 'node_modules', ...pkg.split('/'));
  const pkgJson = path.join(dir, 'package.json');
  const { version } = JSON.parse(readFileSync(pkgJson, 'utf8'));
  const mod = await import(pkg);
  const create = typeof mod.default === 'function' ? mod.default : mod.default?.default;
  if (typeof create !== 'function') {
    throw new Error(`${pkg} has no default export that creates a connector`);
  }
  // Logto probes with a getConfig that throws: metadata must not need a config.
  const probe = await create({
    getConfig: async () => {
      throw new Error('no configuration while reading metadata');
    },
  });
  return { pkg, dir, version, create, probe };
}
