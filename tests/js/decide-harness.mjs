// The edge core's answers for a list of requests, to compare with the middleware's (tests/test_runtimes.py).
//
//   node decide-harness.mjs < {"table": TABLE, "requests": [{method, scheme, host, path, query}]}
//
// host is the raw Host value, path and query the raw target's parts as sent. stdout: one result per
// request, {host: canonical name or null, decision: decide()'s answer or null when nothing is bound}.
import { readFileSync } from 'node:fs';
import { loadRuntime } from './runtime.mjs';

const { canonicalHost, lookup, rawTarget, decide } = loadRuntime();
const { table, requests } = JSON.parse(readFileSync(0, 'utf8'));

const results = requests.map((request) => {
  const host = canonicalHost(request.host);
  const route = host === null ? null : lookup(table, host);
  if (!route) {
    return { host, decision: null };
  }
  const [path, query] = rawTarget(request.path, request.query);
  return { host, decision: decide(table, route, request.method, request.scheme, host, path, query) };
});
process.stdout.write(JSON.stringify(results));
