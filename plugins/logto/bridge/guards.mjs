// What keeps the one Node process that serves every instance of a connector
// running when one instance's code goes wrong.
import { scrub } from './scrub.mjs';

// keepServing logs a connector's stray rejection, or an exception thrown in a
// callback of one of its dependencies (a response listener reading a field of a
// null body), and goes on: the call it belonged to never settles and times out on
// its own, while the other instances' calls finish. Node's default is to exit,
// failing every call in flight.
export function keepServing() {
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bridge: unhandled rejection: ${scrub(err?.message ?? err, [])}\n`);
  });
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bridge: uncaught exception: ${scrub(err?.message ?? err, [])}\n`);
  });
}
