// Loads osscname's edge runtime files (runtimes/core.js and idna.js) into this process as a generated
// Worker lays them out: plain scripts whose function declarations become globals, nothing generated.
// The unit tests (*.test.mjs) and the differential harness (decide-harness.mjs) call them with stub tables.
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const RUNTIMES = new URL('../../runtimes/', import.meta.url);

export function loadRuntime(files = ['core.js', 'idna.js']) {
  for (const name of files) {
    vm.runInThisContext(readFileSync(new URL(name, RUNTIMES), 'utf8'), { filename: name });
  }
  return globalThis;
}

// The plain answers as the generator writes them (osscname.runtimes.answers): a stub, so that these
// tests check where each answer comes from, not the middleware's sentences.
export const ANSWERS = {
  plain: {
    301: ['Moved Permanently', 'body 301\n'],
    302: ['Found', 'body 302\n'],
    307: ['Temporary Redirect', 'body 307\n'],
    308: ['Permanent Redirect', 'body 308\n'],
    400: ['Bad Request', 'body 400\n'],
    405: ['Method Not Allowed', 'body 405\n'],
  },
  allow: 'GET, HEAD, OPTIONS',
};
