// osscname request signing for the Cloudflare Worker (worker.js; the CloudFront Function has no secrets and
// no sign.js): OSS V4 (OSS4-HMAC-SHA256) for OSS buckets, AWS SigV4 (AWS4-HMAC-SHA256, service s3) for
// S3-compatible custom endpoints, with WebCrypto. It signs exactly as osscname.signing signs (the tests
// compare the two byte for byte): read that module's docstring for the why of each rule.
//
// - The secrets are the Worker's environment bindings, under the official SDKs' variable names, set with
//   `wrangler secret put`: OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET and, for STS credentials,
//   OSS_SESSION_TOKEN (OSS buckets); AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (custom
//   endpoints). A missing or malformed one is named (credentialsFrom), never shown.
// - What is sent is the target signed: the path percent-decoded and re-encoded (every byte but
//   A-Z a-z 0-9 - . _ ~ and '/' as upper-case %XX), the query pairs likewise ('/' encoded too, '+' a
//   literal plus), sorted, without any signing parameter the client put there. That is the one target on
//   which OSS, MinIO-like servers and botocore-based ones compute the same canonical request.
// - OSS V4 signs the URI /<bucket>/<key> and not the Host; SigV4 signs the Host as sent (a Worker's fetch
//   sends its URL's host[:port], the route's bucket_host).
// - The signing key (an HMAC chain over the UTC day, the region and the service) is derived once per
//   algorithm, secret, region and day and kept in module scope as an imported CryptoKey, so a signature
//   costs one SHA-256 and one HMAC. This file's only state is that cache.

const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const ENCODER = new TextEncoder();

// What differs between the two signatures. reservedParams are lower-case: dropped from a client's query.
const OSS_V4 = {
  oss: true,
  algorithm: 'OSS4-HMAC-SHA256',
  secretPrefix: 'aliyun_v4',
  service: 'oss',
  terminator: 'aliyun_v4_request',
  headerPrefix: 'x-oss-',
  reservedHeaders: ['authorization', 'content-type', 'content-md5'],
  reservedParams: ['x-oss-signature-version', 'x-oss-credential', 'x-oss-date', 'x-oss-expires', 'x-oss-signature',
    'x-oss-security-token', 'x-oss-additional-headers'],
  signatureParam: 'x-oss-signature',
  secrets: ['OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET', 'OSS_SESSION_TOKEN'],
  where: 'OSS',
};
const SIGV4 = {
  oss: false,
  algorithm: 'AWS4-HMAC-SHA256',
  secretPrefix: 'AWS4',
  service: 's3',
  terminator: 'aws4_request',
  headerPrefix: 'x-amz-',
  reservedHeaders: ['authorization'],
  reservedParams: ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders',
    'x-amz-signature', 'x-amz-security-token'],
  signatureParam: 'X-Amz-Signature',
  secrets: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'],
  where: 'an S3-compatible endpoint',
};

// The signature of a private route: OSS V4 when the table names its bucket (an OSS route), else SigV4.
function signatureFor(route) {
  return route.bucket ? OSS_V4 : SIGV4;
}

// What Python's str.strip() takes for whitespace (JavaScript's trim() differs: it strips U+FEFF, not U+001C-U+001F or U+0085).
const PADDED = /^[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]|[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;

// {id, secret, token} from the Worker's env, or a sentence naming what is missing or malformed (never a
// value), checked as osscname.credentials.from_environment checks the same variables.
function credentialsFrom(signature, env) {
  const [idName, secretName, tokenName] = signature.secrets;
  const missing = [idName, secretName].filter((name) => !env[name]);
  if (missing.length) {
    return missing.join(' and ') + (missing.length === 1 ? ' is' : ' are') + ' not set: private buckets on ' + signature.where +
      ' read their credentials from the Worker secrets ' + idName + ' and ' + secretName + ' (and ' + tokenName +
      ' for STS credentials): wrangler secret put ' + missing[0];
  }
  const id = env[idName];
  const secret = env[secretName];
  const token = env[tokenName] || null;
  const problem = typeof id !== 'string' || typeof secret !== 'string' || (token !== null && typeof token !== 'string')
    ? 'the Worker secrets ' + signature.secrets.join(', ') + ' must be text'
    : !/^[!-~]+$/.test(id) || /[/,=]/.test(id) ? idName + " must be printable ASCII without spaces, '/', ',' or '='"
    : PADDED.test(secret) ? secretName + ' has leading or trailing whitespace'
    : /[\x00-\x1f\x7f]/.test(secret) ? secretName + ' contains a control character'
    : token !== null && !/^[!-~]+$/.test(token) ? tokenName + ' must be printable ASCII without spaces'
    : null;
  return problem || { id: id, secret: secret, token: token };
}

// Whether a client's header must not go upstream on a signed request: its own Authorization would
// replace the signature, and the server signs (OSS) or refuses unsigned (S3) x-oss-* / x-amz-*; OSS also
// signs Content-Type and Content-MD5 whenever present. Range, If-*, Accept-Encoding pass.
function isReservedHeader(signature, name) {
  const lower = name.toLowerCase();
  return lower.startsWith(signature.headerPrefix) || signature.reservedHeaders.indexOf(lower) >= 0;
}

// --- the canonical target ------------------------------------------------------------------------

// Each byte's canonical spelling, in a path ('/' kept) and in a query name or value.
const PATH_BYTES = byteSpellings('/');
const PART_BYTES = byteSpellings('');
const CANONICAL_PATH = /^[A-Za-z0-9/_.~-]*$/; // nothing to re-encode: the common case, skipped cheaply
const CANONICAL_PART = /^[A-Za-z0-9_.~-]*$/;

function byteSpellings(kept) {
  const spellings = [];
  for (let byte = 0; byte < 256; byte++) {
    const char = String.fromCharCode(byte);
    spellings.push(/[A-Za-z0-9_.~-]/.test(char) || char === kept ? char : '%' + (byte < 16 ? '0' : '') + byte.toString(16).toUpperCase());
  }
  return spellings;
}

// A hex digit's value, or -1 (byte values: '0'-'9', 'A'-'F', 'a'-'f').
function hexValue(byte) {
  return byte >= 48 && byte <= 57 ? byte - 48 : byte >= 65 && byte <= 70 ? byte - 55 : byte >= 97 && byte <= 102 ? byte - 87 : -1;
}

// text's UTF-8 bytes with each %XX decoded (a '%' not followed by two hex digits stays, as Python's
// urllib.parse.unquote_to_bytes does), each byte spelled from spellings.
function reencode(text, spellings, decode) {
  const bytes = ENCODER.encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    let byte = bytes[i];
    if (decode && byte === 37 && i + 2 < bytes.length) {
      const high = hexValue(bytes[i + 1]);
      const low = hexValue(bytes[i + 2]);
      if (high >= 0 && low >= 0) {
        byte = high * 16 + low;
        i += 2;
      }
    }
    out += spellings[byte];
  }
  return out;
}

function canonicalPath(path) {
  return CANONICAL_PATH.test(path) ? path : reencode(path, PATH_BYTES, true);
}

function canonicalPart(part) {
  return CANONICAL_PART.test(part) ? part : reencode(part, PART_BYTES, true);
}

// Python's quote(text, safe=''): every byte but the unreserved ones as %XX, nothing decoded first.
function quoteAll(text) {
  return CANONICAL_PART.test(text) ? text : reencode(text, PART_BYTES, false);
}

// The query's [name, value] pairs, canonically encoded, without the signing parameters.
function signingPairs(signature, query) {
  const pairs = [];
  const pieces = query.split('&');
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i];
    if (piece) {
      const equals = piece.indexOf('=');
      const name = canonicalPart(equals < 0 ? piece : piece.slice(0, equals));
      if (signature.reservedParams.indexOf(name.toLowerCase()) < 0) {
        pairs.push([name, canonicalPart(equals < 0 ? '' : piece.slice(equals + 1))]);
      }
    }
  }
  return pairs;
}

// The canonical query string: pairs sorted by name, then value (all ASCII by now); OSS writes a pair
// without a value as its bare name, SigV4 as name=.
function joinPairs(signature, pairs) {
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map((pair) => (pair[1] || !signature.oss ? pair[0] + '=' + pair[1] : pair[0])).join('&');
}

// --- keys and signatures -------------------------------------------------------------------------

// Signing keys of the current UTC day: algorithm, region and secret -> Promise of the CryptoKey.
const SIGNING_KEYS = new Map();
let signingDay = '';

function signingKey(signature, secret, date, region) {
  if (date !== signingDay) {
    SIGNING_KEYS.clear(); // yesterday's keys sign nothing any more
    signingDay = date;
  }
  const id = signature.algorithm + '\n' + region + '\n' + secret;
  let key = SIGNING_KEYS.get(id);
  if (!key) {
    key = deriveKey(signature, secret, date, region);
    SIGNING_KEYS.set(id, key);
    key.catch(() => SIGNING_KEYS.delete(id)); // a failure is not cached
  }
  return key;
}

// HMAC-SHA256 chain prefix+secret -> date -> region -> service -> terminator, imported for signing.
async function deriveKey(signature, secret, date, region) {
  let raw = ENCODER.encode(signature.secretPrefix + secret);
  for (const part of [date, region, signature.service, signature.terminator]) {
    raw = await crypto.subtle.sign('HMAC', await hmacKey(raw), ENCODER.encode(part));
  }
  return hmacKey(raw);
}

function hmacKey(raw) {
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

const HEX = Array.from({ length: 256 }, (_, byte) => (byte < 16 ? '0' : '') + byte.toString(16));

function hex(buffer) {
  const bytes = new Uint8Array(buffer);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    out += HEX[bytes[i]];
  }
  return out;
}

// now (Unix time in seconds) as ISO 8601 basic UTC: 20260102T030405Z.
function stampOf(now) {
  return new Date(Math.floor(now) * 1000).toISOString().replace(/[-:]|\.\d+/g, '');
}

// [stamp, credential scope, key] for a signature at now.
async function prepare(signature, secret, region, now) {
  const stamp = stampOf(now);
  const date = stamp.slice(0, 8);
  const scope = date + '/' + region + '/' + signature.service + '/' + signature.terminator;
  return [stamp, scope, await signingKey(signature, secret, date, region)];
}

async function signatureOf(signature, key, stamp, scope, canonicalRequest) {
  const digest = hex(await crypto.subtle.digest('SHA-256', ENCODER.encode(canonicalRequest)));
  return hex(await crypto.subtle.sign('HMAC', key, ENCODER.encode(signature.algorithm + '\n' + stamp + '\n' + scope + '\n' + digest)));
}

// The canonical request: lines are the signed headers' name:value lines, names their names (SigV4) joined
// by ';'; the canonical URI of OSS V4 puts the bucket first.
function canonicalRequest(signature, method, bucket, path, query, lines, names) {
  return method + '\n' + (signature.oss ? '/' + bucket + path : path) + '\n' + query + '\n' + lines + '\n' + names + '\n' + UNSIGNED_PAYLOAD;
}

// {target, headers} of method on path?query (path percent-encoded, as the bucket should get it) sent with
// Host: host at now: send target with headers ([name, value] pairs) added. As osscname.signing's sign().
async function signRequest(signature, credentials, region, bucket, method, host, path, query, now) {
  const [stamp, scope, key] = await prepare(signature, credentials.secret, region, now);
  const canonical = canonicalPath(path);
  const canonicalQuery = joinPairs(signature, signingPairs(signature, query));
  const headers = [[signature.headerPrefix + 'content-sha256', UNSIGNED_PAYLOAD], [signature.headerPrefix + 'date', stamp]];
  if (credentials.token) {
    headers.push([signature.headerPrefix + 'security-token', credentials.token]);
  }
  let lines = headers.map((header) => header[0] + ':' + header[1] + '\n').join('');
  let names = '';
  if (!signature.oss) {
    lines = 'host:' + host + '\n' + lines;
    names = ['host'].concat(headers.map((header) => header[0])).join(';');
  }
  const request = canonicalRequest(signature, method, bucket, canonical, canonicalQuery, lines, names);
  const signed = await signatureOf(signature, key, stamp, scope, request);
  headers.push(['Authorization', signature.algorithm + ' Credential=' + credentials.id + '/' + scope +
    (signature.oss ? ',Signature=' : ', SignedHeaders=' + names + ', Signature=') + signed]);
  return { target: canonicalQuery ? canonical + '?' + canonicalQuery : canonical, headers: headers };
}

// The target (path?query) of a URL that lets anyone send method on path?query to host for expires seconds
// (1 to 604800, as the loader checks private.expires) from now. As osscname.signing's presign().
async function presignRequest(signature, credentials, region, bucket, method, host, path, query, expires, now) {
  const [stamp, scope, key] = await prepare(signature, credentials.secret, region, now);
  const canonical = canonicalPath(path);
  const credential = quoteAll(credentials.id + '/' + scope);
  const params = signature.oss
    ? [['x-oss-signature-version', signature.algorithm], ['x-oss-credential', credential], ['x-oss-date', stamp], ['x-oss-expires', String(expires)]]
    : [['X-Amz-Algorithm', signature.algorithm], ['X-Amz-Credential', credential], ['X-Amz-Date', stamp], ['X-Amz-Expires', String(expires)],
        ['X-Amz-SignedHeaders', 'host']];
  if (credentials.token) {
    params.push([signature.oss ? 'x-oss-security-token' : 'X-Amz-Security-Token', quoteAll(credentials.token)]);
  }
  const canonicalQuery = joinPairs(signature, signingPairs(signature, query).concat(params));
  const lines = signature.oss ? '' : 'host:' + host + '\n'; // OSS signs no header of a presigned URL
  const request = canonicalRequest(signature, method, bucket, canonical, canonicalQuery, lines, signature.oss ? '' : 'host');
  return canonical + '?' + canonicalQuery + '&' + signature.signatureParam + '=' + (await signatureOf(signature, key, stamp, scope, request));
}
