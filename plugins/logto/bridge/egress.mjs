// The host's egress proxy, when the sandbox gives the plugin (and so Node) no
// network of its own: every provider connection is a tunnel asked for with HTTP
// CONNECT on a Unix socket in the plugin's socket folder, and the host lets it
// reach only the hosts the instances' configurations name (and the plugin
// declares). TLS stays end to end; the proxy only relays bytes.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

// The plugin passes the socket's path on; unset, Node connects directly (and
// undici is not even loaded).
export const proxyPath = process.env.IDPLUG_EGRESS_PROXY || '';
const { Agent, fetch: undiciFetch } = proxyPath ? await import('undici') : {};

// Bounds of the CONNECT exchange: its deadline and the size of the answer.
const handshakeTimeout = 30_000;
const maxAnswer = 16 << 10;

// connectTime is how long a connection may take to be made, the proxy's answer and
// then the TLS handshake: handshakeTimeout, or less when the request that asks for
// it must end sooner (provider-http.mjs sets it). The request cannot close a
// connection not yet made, and nothing else would: one the provider never finished
// held its tunnel (one of the proxy's 256 for the plugin) after its call had ended.
let connectTime = () => handshakeTimeout;

export function useConnectTime(fn) {
  connectTime = fn;
}

function connectTimedOut() {
  return Object.assign(new Error('the provider did not answer in time'), { name: 'TimeoutError' });
}

// tunnel asks the proxy for host:port and calls back with the open socket, by
// deadline (a time in milliseconds).
export function tunnel(host, port, callback, deadline = Date.now() + handshakeTimeout) {
  const sock = net.connect({ path: proxyPath });
  let buf = Buffer.alloc(0);
  let done = false;
  const timer = setTimeout(() => finish(connectTimedOut()), Math.max(0, deadline - Date.now()));
  const finish = (err, s) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.removeListener('data', onData);
    if (err) sock.destroy();
    callback(err, s);
  };
  const onData = (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buf.length > maxAnswer) finish(new Error(`egress proxy: an answer over ${maxAnswer} bytes`));
      return;
    }
    const head = buf.subarray(0, end).toString('latin1');
    const status = Number(head.split(' ', 3)[1]);
    if (status !== 200) {
      const reason = /\r\nX-Idplug-Egress: ([^\r]*)/i.exec(head)?.[1] ?? head.split('\r\n')[0];
      finish(Object.assign(new Error(`egress proxy refused ${host}:${port}: ${reason}`), { code: 'EGRESS_REFUSED' }));
      return;
    }
    const rest = buf.subarray(end + 4);
    if (rest.length > 0) sock.unshift(rest);
    finish(null, sock);
  };
  sock.on('data', onData);
  sock.once('error', (e) => finish(e));
  sock.once('connect', () => {
    const target = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
}

// secure wraps a tunnel in TLS for servername, by deadline.
function secure(sock, options, callback, deadline) {
  const t = tls.connect({ ...options, socket: sock });
  const timer = setTimeout(() => t.destroy(connectTimedOut()), Math.max(0, deadline - Date.now()));
  t.once('secureConnect', () => {
    clearTimeout(timer);
    callback(null, t);
  });
  t.once('error', (e) => {
    clearTimeout(timer);
    callback(e);
  });
}

// Agents for node:http and node:https whose connections are tunnels.
function tunnelAgent(Base, secureIt) {
  const agent = new Base({ keepAlive: true });
  agent.createConnection = (options, callback) => {
    const port = Number(options.port) || (secureIt ? 443 : 80);
    const host = options.host || options.hostname;
    const deadline = Date.now() + connectTime();
    tunnel(host, port, (err, sock) => {
      if (err) return callback(err);
      if (!secureIt) return callback(null, sock);
      secure(sock, { ...options, servername: options.servername || host }, callback, deadline);
    }, deadline);
  };
  return agent;
}

export const httpsAgent = proxyPath ? tunnelAgent(https.Agent, true) : null;
export const httpAgent = proxyPath ? tunnelAgent(http.Agent, false) : null;

// fetch through the proxy: undici's own, on a dispatcher whose connections are
// tunnels (Node's bundled fetch takes no dispatcher of another undici).
const dispatcher = proxyPath
  ? new Agent({
      connect(opts, callback) {
        const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
        const deadline = Date.now() + connectTime();
        tunnel(opts.hostname, port, (err, sock) => {
          if (err) return callback(err);
          if (opts.protocol !== 'https:') return callback(null, sock);
          secure(sock, { servername: opts.servername || opts.hostname, ALPNProtocols: ['http/1.1'] }, callback, deadline);
        }, deadline);
      },
    })
  : null;

// A Request made with Node's own classes is not undici's: its parts are handed
// over instead, the caller's init on top.
export const proxiedFetch = dispatcher
  ? async (input, init) => {
      if (input && typeof input === 'object' && !(input instanceof URL) && typeof input.url === 'string') {
        const r = input;
        const body = r.body ? Buffer.from(await r.arrayBuffer()) : undefined;
        init = { method: r.method, headers: [...r.headers], body, redirect: r.redirect, signal: r.signal, ...init };
        input = r.url;
      }
      return undiciFetch(input, { ...init, dispatcher });
    }
  : null;
