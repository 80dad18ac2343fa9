// The Worker's signer (runtimes/sign.js) on a list of requests, to compare with osscname.signing
// (tests/test_cloudflare.py writes the requests and works out the Python signer's answers for the
// same time, credentials and target).
//
//   node sign-harness.mjs < {"requests": [{signature: "oss" | "s3", env, presign, region, bucket,
//                                          method, host, path, query, expires, now}]}
//
// env holds the secrets under the Worker's binding names; now is Unix time in seconds. A request with
// only signature and env asks for the credentials alone. stdout: one result per request: {credentials}
// (credentialsFrom's answer: {id, secret, token}, or the sentence naming what is missing or malformed),
// {target, headers} for a signed request, {target} for a presigned one.
import { readFileSync } from 'node:fs';
import { loadRuntime } from './runtime.mjs';

const { signatureFor, credentialsFrom, signRequest, presignRequest } = loadRuntime(['sign.js']);
const { requests } = JSON.parse(readFileSync(0, 'utf8'));

const results = [];
for (const request of requests) {
  const signature = signatureFor(request.signature === 'oss' ? { bucket: request.bucket || 'any' } : {}); // as a route entry names it
  const credentials = credentialsFrom(signature, request.env);
  if (!request.method || typeof credentials === 'string') {
    results.push({ credentials });
    continue;
  }
  const args = [signature, credentials, request.region, request.bucket, request.method, request.host, request.path, request.query];
  results.push(request.presign
    ? { target: await presignRequest(...args, request.expires, request.now) }
    : await signRequest(...args, request.now));
}
process.stdout.write(JSON.stringify(results));
