// Serving requests on the plugin's socket: newline-delimited JSON in, answers out in
// any order, each call run in its own store of provider answers.
import { errorAnswer } from './error-answer.mjs';
import { handle } from './operations.mjs';
import { callDeadline, calls } from './provider-http.mjs';
import { secretsOf } from './scrub.mjs';

// A cap on one request line, so a runaway peer cannot exhaust memory.
const maxLine = 4 << 20;
// A cap on one answer line, under the plugin's own (8 MiB, node.go): a longer
// line would end the plugin's reading, and with it every call in flight, other
// instances' included. A provider's answer of 4 MiB can come back several times
// larger (the profile twice, each byte it sent that is not UTF-8 as three).
const maxAnswer = 6 << 20;

export function serve(c, sock) {
  const formKeys = (c.probe.metadata?.formItems ?? []).map((i) => i.key);
  // Answers finished in the same turn of the event loop leave in one write: under
  // load many are, and each write is a trip through the stream and the kernel.
  let corked = false;
  const send = (obj) => {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(() => {
        corked = false;
        sock.uncork();
      });
    }
    let line = JSON.stringify(obj);
    if (Buffer.byteLength(line) > maxAnswer) {
      line = JSON.stringify({
        id: obj.id,
        error: { code: 'invalid_response', message: `the connector's answer is ${Buffer.byteLength(line)} bytes, over the bridge's limit of ${maxAnswer}` },
      });
    }
    sock.write(`${line}\n`);
  };
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => {
    buf += chunk;
    for (;;) {
      const nl = buf.indexOf('\n');
      if (nl < 0) break;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) dispatch(line);
    }
    if (buf.length > maxLine) {
      process.stderr.write('bridge: a request line is too long; exiting\n');
      process.exit(2);
    }
  });
  const dispatch = (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      process.stderr.write('bridge: a request is not JSON; exiting\n');
      process.exit(2);
    }
    // A traced call gets its provider requests back as spans (provider-http.mjs).
    const traced = typeof msg.traceparent === 'string';
    // The call's provider requests end before the plugin's deadline for it.
    const store = { responses: [], spans: traced ? [] : null, deadline: callDeadline(msg.timeLeft) };
    const spans = () => (traced ? { spans: store.spans.filter((s) => s.end) } : {});
    calls.run(store, async () => {
      try {
        const result = await handle(c, formKeys, msg);
        send({ id: msg.id, result, ...spans() });
      } catch (err) {
        const secrets = secretsOf(msg.config, msg.data, msg.session, msg.refreshToken);
        send({ id: msg.id, error: errorAnswer(err, store.responses, secrets), ...spans() });
      }
    });
  };
  // The plugin is gone (or closed the channel): nothing more to do.
  sock.on('end', () => process.exit(0));
  sock.on('close', () => process.exit(0));
  sock.on('error', () => process.exit(0));
  send({ id: 0, result: { ready: true, pid: process.pid, node: process.version, version: c.version } });
}
