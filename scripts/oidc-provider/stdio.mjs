// stdout carries the single issuer line and nothing else. Everything that
// would otherwise land there (the library prints some notices with
// console.info) goes to stderr; log writes there too.

import { Console } from 'node:console';

export const writeStdout = process.stdout.write.bind(process.stdout);
{
  const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
  for (const method of ['log', 'info', 'debug', 'trace', 'dir', 'dirxml', 'table', 'group', 'groupCollapsed']) {
    console[method] = toStderr[method].bind(toStderr);
  }
}

export function log(...args) {
  console.error(...args);
}
