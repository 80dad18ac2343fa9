// Unit tests of runtimes/sign.js, the Worker's signer, on their own:
//   node --test tests/js/
// tests/test_cloudflare.py compares it with osscname.signing byte for byte on many requests
// (sign-harness.mjs), and runs it in workerd against servers that check the signatures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRuntime } from './runtime.mjs';

const { signatureFor, credentialsFrom, isReservedHeader, signRequest, presignRequest } = loadRuntime(['sign.js']);

const OSS = signatureFor({ bucket: 'abc-secure' });
const S3 = signatureFor({});
const READER = { id: 'LTAI5tExampleReader01', secret: 'reader-secret/with+slash=', token: null };
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5) / 1000;

test('the signature follows the route: OSS V4 when the table names the bucket, else SigV4', () => {
  assert.equal(OSS.algorithm, 'OSS4-HMAC-SHA256');
  assert.equal(S3.algorithm, 'AWS4-HMAC-SHA256');
});

test("AWS's documented presigned URL (S3 API reference, query-string authentication)", async () => {
  const credentials = { id: 'AKIAIOSFODNN7EXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', token: null };
  const target = await presignRequest(S3, credentials, 'us-east-1', null, 'GET', 'examplebucket.s3.amazonaws.com', '/test.txt', '', 86400,
    Date.UTC(2013, 4, 24) / 1000);
  assert.equal(target, '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
});

test('the target sent is the canonical one: decoded, re-encoded, pairs sorted, signing parameters dropped', async () => {
  const target = async (signature, path, query) => (await signRequest(signature, READER, 'cn-hangzhou', 'abc-secure', 'GET', 'h', path, query, NOW)).target;
  assert.equal(await target(OSS, '/a+b/%e4%b8%ad%2Fx y/%zz~', ''), '/a%2Bb/%E4%B8%AD/x%20y/%25zz~');
  assert.equal(await target(OSS, '/k', 'b=2&a=1&acl&x-oss-signature=forged&X-Oss-Date=1'), '/k?a=1&acl&b=2');
  assert.equal(await target(S3, '/k', 'b=2&a=1&acl&X-Amz-Signature=forged&x-oss-date=1'), '/k?a=1&acl=&b=2&x-oss-date=1');
  assert.equal(await target(S3, '/k', 'q=a+b%2f&&'), '/k?q=a%2Bb%2F');
});

test('the headers: OSS V4 signs none by name, SigV4 the Host as sent; the session token goes along', async () => {
  const oss = await signRequest(OSS, { ...READER, token: 'CAIS+token/==' }, 'cn-hangzhou', 'abc-secure', 'GET', 'h', '/a.txt', '', NOW);
  assert.deepEqual(oss.headers.map((header) => header[0]), ['x-oss-content-sha256', 'x-oss-date', 'x-oss-security-token', 'Authorization']);
  assert.equal(oss.headers[1][1], '20260102T030405Z');
  assert.equal(oss.headers[2][1], 'CAIS+token/==');
  assert.match(oss.headers[3][1], /^OSS4-HMAC-SHA256 Credential=LTAI5tExampleReader01\/20260102\/cn-hangzhou\/oss\/aliyun_v4_request,Signature=[0-9a-f]{64}$/);
  const s3 = await signRequest(S3, READER, 'us-east-1', null, 'HEAD', '127.0.0.1:9000', '/b/k', '', NOW);
  assert.match(s3.headers[2][1], /^AWS4-HMAC-SHA256 Credential=LTAI5tExampleReader01\/20260102\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  const otherHost = await signRequest(S3, READER, 'us-east-1', null, 'HEAD', '127.0.0.1:9001', '/b/k', '', NOW);
  assert.notEqual(otherHost.headers[2][1], s3.headers[2][1]);
  const ossOtherHost = await signRequest(OSS, { ...READER, token: 'CAIS+token/==' }, 'cn-hangzhou', 'abc-secure', 'GET', 'other', '/a.txt', '', NOW);
  assert.deepEqual(ossOtherHost, oss);
});

test('the signing key is derived once per secret, region and day, then only used', async (t) => {
  const subtle = crypto.subtle;
  const importKey = subtle.importKey;
  let imported = 0;
  subtle.importKey = function (...args) {
    imported += 1;
    return importKey.apply(this, args);
  };
  t.after(() => {
    subtle.importKey = importKey;
  });
  const secret = { id: 'AKIDCACHE', secret: 'cache-test-secret', token: null };
  const sign = (region, now, credentials = secret) => signRequest(S3, credentials, region, null, 'GET', 'h', '/k', '', now);
  await Promise.all([sign('eu-west-3', NOW), sign('eu-west-3', NOW + 1)]); // concurrent: one derivation
  assert.equal(imported, 5); // the secret and each link of the chain but the last are imported, then the key
  await sign('eu-west-3', NOW + 3600);
  assert.equal(imported, 5);
  await sign('eu-west-2', NOW);
  assert.equal(imported, 10);
  await sign('eu-west-3', NOW, { ...secret, secret: 'rotated-secret' });
  assert.equal(imported, 15);
  await sign('eu-west-3', NOW + 86400); // the next day
  assert.equal(imported, 20);
});

test('a missing secret is named with what to set, never a value', () => {
  assert.equal(credentialsFrom(OSS, {}),
    'OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not set: private buckets on OSS read their credentials from the Worker secrets ' +
    'OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (and OSS_SESSION_TOKEN for STS credentials): wrangler secret put OSS_ACCESS_KEY_ID');
  const missing = credentialsFrom(S3, { AWS_ACCESS_KEY_ID: 'AKIDVISIBLE', AWS_SECRET_ACCESS_KEY: '' });
  assert.match(missing, /^AWS_SECRET_ACCESS_KEY is not set: private buckets on an S3-compatible endpoint .* wrangler secret put AWS_SECRET_ACCESS_KEY$/);
  assert.ok(!missing.includes('AKIDVISIBLE'));
  assert.deepEqual(credentialsFrom(OSS, { OSS_ACCESS_KEY_ID: 'id', OSS_ACCESS_KEY_SECRET: 's', OSS_SESSION_TOKEN: '' }), { id: 'id', secret: 's', token: null });
  assert.deepEqual(credentialsFrom(S3, { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' }), { id: 'id', secret: 's', token: 't' });
});

test('a malformed secret is named, never shown', () => {
  const env = { OSS_ACCESS_KEY_ID: 'id', OSS_ACCESS_KEY_SECRET: 'hidden-secret' };
  const cases = [
    [{ OSS_ACCESS_KEY_ID: 'a/b' }, "OSS_ACCESS_KEY_ID must be printable ASCII without spaces, '/', ',' or '='"],
    [{ OSS_ACCESS_KEY_ID: 'a b' }, "OSS_ACCESS_KEY_ID must be printable ASCII without spaces, '/', ',' or '='"],
    [{ OSS_ACCESS_KEY_SECRET: 'hidden-secret\n' }, 'OSS_ACCESS_KEY_SECRET has leading or trailing whitespace'],
    [{ OSS_ACCESS_KEY_SECRET: '\u0085hidden' }, 'OSS_ACCESS_KEY_SECRET has leading or trailing whitespace'],
    [{ OSS_ACCESS_KEY_SECRET: 'hidden\u0000secret' }, 'OSS_ACCESS_KEY_SECRET contains a control character'],
    [{ OSS_SESSION_TOKEN: 'hidden token' }, 'OSS_SESSION_TOKEN must be printable ASCII without spaces'],
    [{ OSS_ACCESS_KEY_SECRET: { hidden: true } }, 'the Worker secrets OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_SESSION_TOKEN must be text'],
  ];
  for (const [changed, problem] of cases) {
    assert.equal(credentialsFrom(OSS, { ...env, ...changed }), problem);
  }
  assert.deepEqual(credentialsFrom(OSS, { ...env, OSS_ACCESS_KEY_SECRET: '\ufeffok' }), { id: 'id', secret: '\ufeffok', token: null }); // not whitespace to Python
});

test("the client's signing headers stay behind on a signed request; ranges and conditions pass", () => {
  for (const name of ['Authorization', 'x-oss-date', 'X-OSS-Security-Token', 'Content-Type', 'content-md5']) {
    assert.ok(isReservedHeader(OSS, name), name);
  }
  for (const name of ['Authorization', 'X-Amz-Date', 'x-amz-security-token']) {
    assert.ok(isReservedHeader(S3, name), name);
  }
  for (const name of ['Range', 'If-None-Match', 'Accept-Encoding', 'x-amz-date']) {
    assert.ok(!isReservedHeader(OSS, name), name);
  }
  for (const name of ['Range', 'Content-Type', 'x-oss-date']) {
    assert.ok(!isReservedHeader(S3, name), name);
  }
});
