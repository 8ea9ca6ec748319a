// The operations a request names.
import { validate } from './config.mjs';
import { bridgeError } from './errors.mjs';
import { authorize, refresh, userInfo } from './flow.mjs';
import { release } from './instances.mjs';
import { useTestHosts } from './provider-http.mjs';

export async function handle(c, formKeys, msg) {
  switch (msg.op) {
    case 'ping':
      return { pid: process.pid, node: process.version };
    case 'init':
      // Sent only by the plugin's test build (tag logtotest): production plugins never
      // send a host map, and nothing in a connector's configuration reaches it.
      useTestHosts(msg.testHosts && typeof msg.testHosts === 'object' ? msg.testHosts : null);
      return {};
    case 'validate':
      validate(c, msg.config, formKeys);
      return {};
    case 'authorize':
      return authorize(c, formKeys, msg);
    case 'userinfo':
      return userInfo(c, formKeys, msg);
    case 'refresh':
      return refresh(c, formKeys, msg);
    case 'release':
      return release(msg);
    default:
      throw bridgeError('not_implemented', `unknown operation ${String(msg.op).slice(0, 32)}`);
  }
}
