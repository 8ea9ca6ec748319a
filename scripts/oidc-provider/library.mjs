// Loads the oidc-provider package. Every other module takes Provider and
// errors from here, so the package is loaded once, after stdio.mjs has routed
// console output away from stdout.
//
// oidc-provider 9 warns on every start when the runtime is older than the
// Node.js LTS line it targets. The features used here work on Node.js 20
// (the test suite exercises them), so the warning is only noise.

import './stdio.mjs';

export const { Provider, errors } = await (async () => {
  const { warn } = console;
  console.warn = (...args) => {
    if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
    warn(...args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
})();
