// osscname request signing for nginx (njs 0.7.9+, `js_import` from the file generate-nginx writes):
// OSS V4 (OSS4-HMAC-SHA256) for OSS buckets, AWS SigV4 (AWS4-HMAC-SHA256, service s3) for S3-compatible
// custom endpoints, with njs's synchronous crypto module. It signs exactly as osscname.signing signs (the
// tests compare the two byte for byte, tests/js/nginx-sign-harness.js in the njs CLI): read that module's
// docstring for the why of each rule. This file is static: no value of any bindings file is written into
// it. Each route's values reach it as the nginx variables of the generated maps ($osscname_private,
// $osscname_private_region, $osscname_bucket, $osscname_root, ...), read per request.
//
// - The handlers are js_set variables. nginx evaluates a js_set variable once per request and keeps its
//   value (measured on njs 0.7.9: "$v $v" calls the handler once), so the timestamp ($osscname_sign_date)
//   read by the date headers and by every Authorization of one request is one value.
// - The njs VM is made afresh for every request (measured on njs 0.7.9: a module-level counter is 1 on
//   every request), so the signing key cannot be kept from one request to the next without a shared
//   store (js_shared_dict_zone is njs 0.8+); it is derived once per request (keyCache below) and reused
//   by the request's follow-ups (folder, error document) in the same VM. bench/nginx_signing.py measures
//   what that costs.
// - The credentials are the environment variables of the official SDKs, passed to njs by nginx.conf's
//   `env NAME;` lines in the main context: OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET and, for STS
//   credentials, OSS_SESSION_TOKEN (OSS buckets); AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
//   AWS_SESSION_TOKEN (custom endpoints). A missing or malformed one is named (problem()), in the answer
//   (500) and the error log, never shown.
// - Request values are read as bytes (r.rawVariables): the path as sent, raw non-ASCII included, is
//   percent-decoded and re-encoded (every byte but A-Z a-z 0-9 - . _ ~ and '/' as upper-case %XX), the
//   query pairs likewise ('/' encoded too, '+' a literal plus), sorted, without any signing parameter the
//   client put there: the target the signature covers is the target sent.

const crypto = require('crypto');

const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

// What differs between the two signatures. reservedParams are lower-case: dropped from a client's query.
const OSS_V4 = {
  oss: true,
  algorithm: 'OSS4-HMAC-SHA256',
  secretPrefix: 'aliyun_v4',
  service: 'oss',
  terminator: 'aliyun_v4_request',
  headerPrefix: 'x-oss-',
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
  reservedParams: ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders',
    'x-amz-signature', 'x-amz-security-token'],
  signatureParam: 'X-Amz-Signature',
  secrets: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'],
  where: 'an S3-compatible endpoint',
};

// The query parameters (decoded, lower-case) a private binding refuses: osscname.decision's
// PRIVATE_REFUSED_PARAMETERS, and any name starting with response-.
const REFUSED_PARAMETERS = ['acl', 'tagging', 'symlink', 'objectmeta', 'versionid', 'versions', 'uploadid', 'uploads', 'torrent',
  'attributes', 'legal-hold', 'retention'];

// $osscname_private: oss | s3.
function flavourOf(kind) {
  return kind === 's3' ? SIGV4 : OSS_V4;
}

// --- credentials ---------------------------------------------------------------------------------

// What Python's str.strip() takes for whitespace (JavaScript's trim() differs).
const PADDED = /^[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]|[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;

// {id, secret, token} from env (process.env), or a sentence naming what is missing or malformed (never a
// value), checked as osscname.credentials.from_environment checks the same variables.
function credentialsFrom(flavour, env) {
  const idName = flavour.secrets[0];
  const secretName = flavour.secrets[1];
  const tokenName = flavour.secrets[2];
  const missing = [idName, secretName].filter((name) => !env[name]);
  if (missing.length) {
    return missing.join(' and ') + (missing.length === 1 ? ' is' : ' are') + ' not set: private buckets on ' + flavour.where +
      ' read their credentials from ' + idName + ' and ' + secretName + ' (and ' + tokenName + ' for STS credentials); nginx.conf needs "env ' +
      missing[0] + ';" in its main context and the variable set where nginx starts';
  }
  const id = env[idName];
  const secret = env[secretName];
  const token = env[tokenName] || null;
  const problem = !/^[!-~]+$/.test(id) || /[/,=]/.test(id) ? idName + " must be printable ASCII without spaces, '/', ',' or '='"
    : PADDED.test(secret) ? secretName + ' has leading or trailing whitespace'
    : /[\x00-\x1f\x7f]/.test(secret) ? secretName + ' contains a control character'
    : token !== null && !/^[!-~]+$/.test(token) ? tokenName + ' must be printable ASCII without spaces'
    : null;
  return problem || { id: id, secret: secret, token: token };
}

// --- the canonical target ------------------------------------------------------------------------

// A byte's canonical spelling: itself if unreserved (A-Z a-z 0-9 - . _ ~, and '/' in a path), else
// upper-case %XX. Worked out per byte, not from a table: the VM, and so this module's top level, is new
// for every request (a 256-entry table built there cost about 0.2 ms a request).
const HEX = '0123456789ABCDEF';

function spelling(byte, slash) {
  const unreserved = (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) ||
    byte === 45 || byte === 46 || byte === 95 || byte === 126 || (slash && byte === 47);
  return unreserved ? String.fromCharCode(byte) : '%' + HEX[byte >> 4] + HEX[byte & 15];
}

// A hex digit's value, or -1.
function hexValue(byte) {
  return byte >= 48 && byte <= 57 ? byte - 48 : byte >= 65 && byte <= 70 ? byte - 55 : byte >= 97 && byte <= 102 ? byte - 87 : -1;
}

// A Buffer (or a string of ASCII) as a byte string: one character per byte, code 0-255.
function byteString(value) {
  if (value === undefined || value === null) {
    return '';
  }
  if (typeof value === 'string') {
    return value;
  }
  let out = '';
  for (let i = 0; i < value.length; i++) {
    out += String.fromCharCode(value[i]);
  }
  return out;
}

// The bytes of a byte string with each %XX decoded (a '%' not followed by two hex digits stays, as
// Python's urllib.parse.unquote_to_bytes does).
function unquoteBytes(text) {
  const bytes = [];
  for (let i = 0; i < text.length; i++) {
    let byte = text.charCodeAt(i);
    if (byte === 37 && i + 2 < text.length) {
      const high = hexValue(text.charCodeAt(i + 1));
      const low = hexValue(text.charCodeAt(i + 2));
      if (high >= 0 && low >= 0) {
        byte = high * 16 + low;
        i += 2;
      }
    }
    bytes.push(byte);
  }
  return bytes;
}

function reencode(text, slash) {
  const bytes = unquoteBytes(text);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    out += spelling(bytes[i], slash);
  }
  return out;
}

function canonicalPath(path) {
  return /^[A-Za-z0-9/_.~-]*$/.test(path) ? path : reencode(path, true);
}

function canonicalPart(part) {
  return /^[A-Za-z0-9_.~-]*$/.test(part) ? part : reencode(part, false);
}

// Python's quote(text, safe=''): every byte of text's UTF-8 but the unreserved ones as %XX.
function quoteAll(text) {
  const bytes = Buffer.from(text);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    out += spelling(bytes[i], false);
  }
  return out;
}

// The query's [name, value] pairs (a byte string without '?'), canonically encoded, without the signing parameters.
function signingPairs(flavour, query) {
  const pairs = [];
  const pieces = query.split('&');
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i];
    if (piece) {
      const equals = piece.indexOf('=');
      const name = canonicalPart(equals < 0 ? piece : piece.slice(0, equals));
      if (flavour.reservedParams.indexOf(name.toLowerCase()) < 0) {
        pairs.push([name, canonicalPart(equals < 0 ? '' : piece.slice(equals + 1))]);
      }
    }
  }
  return pairs;
}

// The canonical query string: pairs sorted by name, then value (all ASCII by now); OSS writes a pair
// without a value as its bare name, SigV4 as name=.
function joinPairs(flavour, pairs) {
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map((pair) => (pair[1] || !flavour.oss ? pair[0] + '=' + pair[1] : pair[0])).join('&');
}

// The target sent for path?query (byte strings; the query without '?'): osscname.signing.canonical_target.
function canonicalTarget(kind, path, query) {
  const flavour = flavourOf(kind);
  const joined = joinPairs(flavour, signingPairs(flavour, query));
  const canonical = canonicalPath(path);
  return joined ? canonical + '?' + joined : canonical;
}

// osscname.decision.private_refused: the bucket's root (a key of slashes only, once decoded) or a
// refused parameter (decoded, in any case). objectPath and query are byte strings.
function privateRefused(basePath, objectPath, query) {
  const key = unquoteBytes(objectPath.slice(basePath.length));
  if (key.every((byte) => byte === 47)) {
    return true;
  }
  const pieces = query ? query.split('&') : [];
  for (let i = 0; i < pieces.length; i++) {
    const equals = pieces[i].indexOf('=');
    const name = Buffer.from(unquoteBytes(equals < 0 ? pieces[i] : pieces[i].slice(0, equals))).toString().toLowerCase();
    if (REFUSED_PARAMETERS.indexOf(name) >= 0 || name.startsWith('response-')) {
      return true;
    }
  }
  return false;
}

// --- keys and signatures -------------------------------------------------------------------------

// now (Unix time in seconds) as ISO 8601 basic UTC: 20260102T030405Z.
function stampOf(now) {
  return new Date(Math.floor(now) * 1000).toISOString().replace(/[-:]|\.\d+/g, '');
}

// The signing key of this VM's request, by algorithm, secret, region and day (the VM lives one request).
const keyCache = {};

// HMAC-SHA256 chain prefix+secret -> date -> region -> service -> terminator.
function signingKey(flavour, secret, date, region) {
  const id = flavour.algorithm + '\n' + date + '\n' + region + '\n' + secret;
  let key = keyCache[id];
  if (!key) {
    key = Buffer.from(flavour.secretPrefix + secret);
    const parts = [date, region, flavour.service, flavour.terminator];
    for (let i = 0; i < parts.length; i++) {
      key = crypto.createHmac('sha256', key).update(parts[i]).digest();
    }
    keyCache[id] = key;
  }
  return key;
}

function signatureOf(flavour, secret, region, stamp, canonicalRequest) {
  const date = stamp.slice(0, 8);
  const scope = date + '/' + region + '/' + flavour.service + '/' + flavour.terminator;
  const digest = crypto.createHash('sha256').update(canonicalRequest).digest('hex');
  const toSign = flavour.algorithm + '\n' + stamp + '\n' + scope + '\n' + digest;
  return crypto.createHmac('sha256', signingKey(flavour, secret, date, region)).update(toSign).digest('hex');
}

// The canonical URI of OSS V4 puts the bucket first.
function canonicalRequest(flavour, method, bucket, path, query, lines, names) {
  return method + '\n' + (flavour.oss ? '/' + bucket + path : path) + '\n' + query + '\n' + lines + '\n' + names + '\n' + UNSIGNED_PAYLOAD;
}

// The Authorization of method on target (a canonical target, from canonicalTarget) sent with Host: host
// and the date headers of stamp: osscname.signing's sign(), whose other headers the template sets.
function authorization(kind, credentials, region, bucket, method, host, target, stamp) {
  const flavour = flavourOf(kind);
  const question = target.indexOf('?');
  const path = question < 0 ? target : target.slice(0, question);
  const query = question < 0 ? '' : target.slice(question + 1);
  let lines = flavour.headerPrefix + 'content-sha256:' + UNSIGNED_PAYLOAD + '\n' + flavour.headerPrefix + 'date:' + stamp + '\n';
  if (credentials.token) {
    lines += flavour.headerPrefix + 'security-token:' + credentials.token + '\n';
  }
  let names = '';
  if (!flavour.oss) {
    lines = 'host:' + host + '\n' + lines;
    names = 'host;x-amz-content-sha256;x-amz-date' + (credentials.token ? ';x-amz-security-token' : '');
  }
  const signature = signatureOf(flavour, credentials.secret, region, stamp,
    canonicalRequest(flavour, method, bucket, path, query, lines, names));
  const scope = stamp.slice(0, 8) + '/' + region + '/' + flavour.service + '/' + flavour.terminator;
  return flavour.algorithm + ' Credential=' + credentials.id + '/' + scope +
    (flavour.oss ? ',Signature=' : ', SignedHeaders=' + names + ', Signature=') + signature;
}

// The target (path?query) of a URL that lets anyone send method on path?query (byte strings) to host for
// expires seconds from stamp: osscname.signing's presign().
function presign(kind, credentials, region, bucket, method, host, path, query, expires, stamp) {
  const flavour = flavourOf(kind);
  const canonical = canonicalPath(path);
  const scope = stamp.slice(0, 8) + '/' + region + '/' + flavour.service + '/' + flavour.terminator;
  const credential = quoteAll(credentials.id + '/' + scope);
  const params = flavour.oss
    ? [['x-oss-signature-version', flavour.algorithm], ['x-oss-credential', credential], ['x-oss-date', stamp], ['x-oss-expires', String(expires)]]
    : [['X-Amz-Algorithm', flavour.algorithm], ['X-Amz-Credential', credential], ['X-Amz-Date', stamp], ['X-Amz-Expires', String(expires)],
        ['X-Amz-SignedHeaders', 'host']];
  if (credentials.token) {
    params.push([flavour.oss ? 'x-oss-security-token' : 'X-Amz-Security-Token', quoteAll(credentials.token)]);
  }
  const canonicalQuery = joinPairs(flavour, signingPairs(flavour, query).concat(params));
  const lines = flavour.oss ? '' : 'host:' + host + '\n'; // OSS signs no header of a presigned URL
  const request = canonicalRequest(flavour, method, bucket, canonical, canonicalQuery, lines, flavour.oss ? '' : 'host');
  return canonical + '?' + canonicalQuery + '&' + flavour.signatureParam + '=' + signatureOf(flavour, credentials.secret, region, stamp, request);
}

// --- the js_set handlers -------------------------------------------------------------------------

// A variable of the request as a byte string ('' when empty or unset).
function raw(r, name) {
  return byteString(r.rawVariables[name]);
}

function credentialsOf(r) {
  return credentialsFrom(flavourOf(r.variables.osscname_private), process.env);
}

// $osscname_js_problem: what is wrong with the credentials (named, never shown), logged; '' when none is.
function problem(r) {
  const found = credentialsOf(r);
  if (typeof found !== 'string') {
    return '';
  }
  r.error('osscname: cannot sign for ' + r.variables.host + ': ' + found);
  return found;
}

// $osscname_sign_date: the request's timestamp, one value for every header and signature of the request.
function date(r) {
  return stampOf(Date.now() / 1000);
}

// The request's query as sent, without '?' ($osscname_query is '?query', or '' for none or a bare '?').
function query(r) {
  return raw(r, 'osscname_query').slice(1);
}

// The object path ($osscname_object, Route.object_path): root + the path without its '/', and for a path
// ending in '/' the index appended, or with subdir: root the root index document.
function objectPath(r) {
  return raw(r, 'osscname_object');
}

// $osscname_js_refused: 1 when a private binding refuses the request (403 before anything is signed).
function refused(r) {
  return privateRefused(raw(r, 'osscname_base_path'), objectPath(r), query(r)) ? '1' : '';
}

// The targets sent, and their Authorization: the object, the folder's index (subdir: serve), the error document.
function objectTarget(r) {
  return canonicalTarget(r.variables.osscname_private, objectPath(r), query(r));
}

function folderTarget(r) {
  return canonicalTarget(r.variables.osscname_private, raw(r, 'osscname_root') + raw(r, 'osscname_rest') + '/' + raw(r, 'osscname_index'), query(r));
}

function errorTarget(r) {
  return canonicalTarget(r.variables.osscname_private, raw(r, 'osscname_error_path'), '');
}

function authorizationOf(r, target) {
  const credentials = credentialsOf(r);
  if (typeof credentials === 'string') {
    return ''; // unreachable through the template: the request got the named 500 before any proxy_pass
  }
  const v = r.variables;
  return authorization(v.osscname_private, credentials, v.osscname_private_region, v.osscname_bucket, r.method, v.osscname_proxy_host, target,
    v.osscname_sign_date);
}

function objectAuthorization(r) {
  return authorizationOf(r, r.variables.osscname_js_object_target);
}

function folderAuthorization(r) {
  return authorizationOf(r, r.variables.osscname_js_folder_target);
}

function errorAuthorization(r) {
  return authorizationOf(r, r.variables.osscname_js_error_target);
}

// $osscname_js_token: the session token of STS credentials, or ''.
function token(r) {
  const credentials = credentialsOf(r);
  return typeof credentials === 'string' ? '' : credentials.token || '';
}

// $osscname_js_location: a private redirect's presigned Location, for HEAD on a HEAD and GET otherwise
// (never a method that writes), valid $osscname_private_expires seconds.
function location(r) {
  const credentials = credentialsOf(r);
  if (typeof credentials === 'string') {
    return '';
  }
  const v = r.variables;
  const method = r.method === 'HEAD' ? 'HEAD' : 'GET';
  return v.osscname_target_scheme + '://' + v.osscname_bucket_host + presign(v.osscname_private, credentials, v.osscname_private_region, v.osscname_bucket,
    method, v.osscname_bucket_host, objectPath(r), query(r), Number(v.osscname_private_expires), v.osscname_sign_date);
}

export default {
  problem, date, refused, objectTarget, folderTarget, errorTarget, objectAuthorization, folderAuthorization, errorAuthorization, token, location,
  // for the tests (tests/js/nginx-sign-harness.js)
  credentialsFrom, canonicalTarget, privateRefused, authorization, presign, stampOf, byteString,
};
