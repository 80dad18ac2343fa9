// Unit tests of runtimes/core.js (with idna.js, as the Worker has it), on stub route tables.
//   node --test tests/js/
// tests/test_runtimes.py runs them under pytest, and compares the same functions with the middleware's
// (osscname.decision.decide, osscname.hosts.normalize_host) on the conformance corpus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANSWERS, loadRuntime } from './runtime.mjs';

const { canonicalHost, lookup, objectPath, folderPath, hasDotSegment, rawTarget, decide } = loadRuntime();

const IMG = { mode: 'redirect', status: 301, bucket_host: 'img.bucket.test', root: '/' };
const CDN = { mode: 'redirect', status: 302, scheme: 'https', bucket_host: 'cdn.bucket.test', root: '/' };
const EU = { mode: 'redirect', status: 307, bucket_host: 'eu.bucket.test', root: '/eu/' };
const TABLE = {
  hosts: { 'img.example.com': 0, '*.cdn.example.com': 1, '*.eu.cdn.example.com': 2, 'x.eu.cdn.example.com': 0 },
  routes: [IMG, CDN, EU],
  ...ANSWERS,
};

// The route's answer as plain data: status, headers, body (or the proxy decision itself).
function ask(route, method, scheme, path, query = '', host = 'h.example.com') {
  const made = decide(TABLE, route, method, scheme, host, path, query);
  return made.proxy ? made : { status: made.status, reason: made.reason, headers: made.headers, body: made.body };
}

test('lookup: an exact name', () => {
  assert.equal(lookup(TABLE, 'img.example.com'), IMG);
  assert.equal(lookup(TABLE, 'other.example.com'), null);
  assert.equal(lookup(TABLE, 'example.com'), null);
});

test('lookup: a wildcard covers any depth below its name, not the name itself', () => {
  assert.equal(lookup(TABLE, 'a.cdn.example.com'), CDN);
  assert.equal(lookup(TABLE, 'a.b.c.cdn.example.com'), CDN);
  assert.equal(lookup(TABLE, 'cdn.example.com'), null);
});

test('lookup: the most specific wildcard wins, and an exact name beats every wildcard', () => {
  assert.equal(lookup(TABLE, 'y.eu.cdn.example.com'), EU);
  assert.equal(lookup(TABLE, 'a.b.eu.cdn.example.com'), EU);
  assert.equal(lookup(TABLE, 'eu.cdn.example.com'), CDN);
  assert.equal(lookup(TABLE, 'x.eu.cdn.example.com'), IMG);
});

test('lookup: names of Object.prototype are not bound', () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    assert.equal(lookup(TABLE, name), null);
  }
});

test('host: case, trailing dot and port are not part of the name', () => {
  assert.equal(canonicalHost('IMG.Example.COM.'), 'img.example.com');
  assert.equal(canonicalHost('img.example.com:8080'), 'img.example.com');
  assert.equal(canonicalHost('IMG.example.com.:443'), 'img.example.com');
  assert.equal(canonicalHost('img.example.com:080'), 'img.example.com');
  assert.equal(lookup(TABLE, canonicalHost('A.B.CDN.EXAMPLE.COM.')), CDN);
});

test('host: port forms the middleware does not take are no name (unbound, passed on)', () => {
  for (const raw of ['img.example.com:http', 'img.example.com::80', 'img.example.com:', 'img.example.com:99999',
    'img.example.com:123456', '[::1]:80', '[::1]', '']) {
    assert.equal(canonicalHost(raw), null, raw);
  }
});

test('host: labels must be LDH, 1-63 characters, without a leading or trailing hyphen', () => {
  for (const raw of ['a_b.cdn.example.com', '-a.cdn.example.com', 'a-.cdn.example.com', 'x..y', '.a.example.com',
    'a%41.example.com', 'a b.example.com', 'img.example.com/x', 'a'.repeat(64) + '.example.com',
    ('a'.repeat(60) + '.').repeat(5) + 'com', 'a\\b.example.com']) {
    assert.equal(canonicalHost(raw), null, raw);
  }
  assert.equal(canonicalHost('a'.repeat(63) + '.example.com'), 'a'.repeat(63) + '.example.com');
  assert.equal(canonicalHost('ab--c.cdn.example.com'), 'ab--c.cdn.example.com'); // not an IDN: LDH only
});

test('host: A-labels must be valid, and IDN names come out as A-labels', () => {
  assert.equal(canonicalHost('xn--bcher-kva.example.org'), 'xn--bcher-kva.example.org');
  assert.equal(canonicalHost('XN--BCHER-KVA.example.org'), 'xn--bcher-kva.example.org');
  assert.equal(canonicalHost('bücher.example.org'), 'xn--bcher-kva.example.org');
  assert.equal(canonicalHost('BÜCHER.example.org'), 'xn--bcher-kva.example.org');
  assert.equal(canonicalHost('faß.example.org'), 'xn--fa-hia.example.org');
  for (const raw of ['xn--a.cdn.example.com', 'xn--.cdn.example.com', 'xn--abc-.example.org', 'xn--zfg.example.org',
    'xn--bcher-kva.xn--a.org', 'ab--c.xn--bcher-kva.example.org', 'bü:cher.example.org', 'bü/x.example.org']) {
    assert.equal(canonicalHost(raw), null, raw);
  }
});

test('object path: the root (bucket path + prefix) + the path as sent, the index after a "/"', () => {
  const route = { root: '/public/', index_url: 'index.html' };
  assert.equal(objectPath(route, '/a.png'), '/public/a.png');
  assert.equal(objectPath(route, '/'), '/public/index.html');
  assert.equal(objectPath(route, '/docs/'), '/public/docs/index.html');
  assert.equal(objectPath(route, '/a%20b/%E4%B8%AD.png'), '/public/a%20b/%E4%B8%AD.png');
  assert.equal(objectPath({ root: '/' }, '/docs/'), '/docs/');
  assert.equal(folderPath(route, '/docs'), '/public/docs/index.html');
});

test('object path: a custom endpoint root keeps its base path', () => {
  const route = { root: '/assets/p/', index_url: 'i.htm' };
  assert.equal(objectPath(route, '/x/y.js'), '/assets/p/x/y.js');
  assert.equal(objectPath(route, '/x/'), '/assets/p/x/i.htm');
});

test('dot segments: literal and percent-encoded, in any case; %2F splits too', () => {
  for (const path of ['/..', '/a/../b', '/a/./b', '/.', '/a/%2e%2e/b', '/a/%2E%2E/b', '/a/%2e/b', '/a/.%2E/b',
    '/a%2f..%2fb', '/a%2F..', '/x/%2e%2E/']) {
    assert.equal(hasDotSegment(path), true, path);
  }
});

test('dot segments: "\\" is a character of the key, as in the middleware', () => {
  for (const path of ['/..\\secret.txt', '/x\\..\\..\\', '/back\\slash.txt', '/a..b', '/.hidden', '/a/...', '/%2e%2e%2e',
    '/a%252e%252e/b']) {
    assert.equal(hasDotSegment(path), false, path);
  }
});

test('target: what a URI holds raw stays as sent; "\\" and the other characters it cannot hold are encoded', () => {
  assert.deepEqual(rawTarget("/a%20b/c:@!$&'()*+,;=~-._", 'q=%2F&x?y'), ["/a%20b/c:@!$&'()*+,;=~-._", 'q=%2F&x?y']);
  assert.deepEqual(rawTarget('/a%20b/..\\c', 'q=%2F&x'), ['/a%20b/..%5Cc', 'q=%2F&x']);
  assert.deepEqual(rawTarget('/a{b}|^"', 'x=`<>'), ['/a%7Bb%7D%7C%5E%22', 'x=%60%3C%3E']);
});

test('target: raw non-ASCII and controls are percent-encoded as the middleware does', () => {
  assert.deepEqual(rawTarget('/ü', 'q=é'), ['/%C3%BC', 'q=%C3%A9']);
  assert.deepEqual(rawTarget('/a b', 'x=a b'), ['/a%20b', 'x=a%20b']);
  // every character outside RFC 3986 pchar (and "%", "?" in the query) is encoded, whatever else is there
  assert.deepEqual(rawTarget('/ü\\x%41', 'é?"'), ['/%C3%BC%5Cx%41', '%C3%A9?%22']);
  assert.deepEqual(rawTarget('/😀', ''), ['/%F0%9F%98%80', '']);
  assert.deepEqual(rawTarget('/\u0001', ''), ['/%01', '']);
});

test('redirects: every status, Location = bucket + object path + query verbatim', () => {
  for (const status of [301, 302, 307, 308]) {
    const route = { mode: 'redirect', status, bucket_host: 'b.test', root: '/p/', index_url: 'i.html' };
    assert.deepEqual(ask(route, 'GET', 'http', '/a/', 'x=1&y&z=%2F'), {
      status, reason: ANSWERS.plain[status][0], body: ANSWERS.plain[status][1],
      headers: [['location', 'http://b.test/p/a/i.html?x=1&y&z=%2F']],
    });
  }
});

test('redirects: the route scheme, else the request scheme; any method', () => {
  assert.deepEqual(ask(CDN, 'POST', 'http', '/x').headers, [['location', 'https://cdn.bucket.test/x']]);
  assert.deepEqual(ask(IMG, 'DELETE', 'https', '/x').headers, [['location', 'https://img.bucket.test/x']]);
});

test('redirects: a bare "?" gives no "?" in the Location', () => {
  const [path, query] = rawTarget('/x', '');
  assert.deepEqual(ask(IMG, 'GET', 'http', path, query).headers, [['location', 'http://img.bucket.test/x']]);
});

test('redirects: raw non-ASCII in a Location is percent-encoded', () => {
  const [path, query] = rawTarget('/ü', 'q=é');
  assert.deepEqual(ask(IMG, 'GET', 'http', path, query).headers, [['location', 'http://img.bucket.test/%C3%BC?q=%C3%A9']]);
});

test('redirects: dot segments are kept (the client talks to the bucket host)', () => {
  assert.deepEqual(ask(IMG, 'GET', 'http', '/a/../b').headers, [['location', 'http://img.bucket.test/a/../b']]);
});

const SITE = { mode: 'rewrite', bucket_host: 's.test', root: '/public/', index_url: 'index.html', folder: 'redirect',
  error_path: '/404.html', hsts: 600 };

test('plain answers: 405 with Allow for a method a rewrite does not forward, HSTS on https', () => {
  assert.deepEqual(ask(SITE, 'POST', 'https', '/a'), {
    status: 405, reason: 'Method Not Allowed', body: 'body 405\n',
    headers: [['allow', 'GET, HEAD, OPTIONS'], ['strict-transport-security', 'max-age=600']],
  });
  assert.deepEqual(ask(SITE, 'PUT', 'http', '/a').headers, [['allow', 'GET, HEAD, OPTIONS']]);
});

test('plain answers: 400 for a dot segment in a rewrite', () => {
  assert.deepEqual(ask(SITE, 'GET', 'http', '/docs/%2e%2E/secret'), { status: 400, reason: 'Bad Request', body: 'body 400\n', headers: [] });
  assert.deepEqual(ask(SITE, 'GET', 'https', '/..').headers, [['strict-transport-security', 'max-age=600']]);
});

test('https.force: plain http gets 301 to the same host and target on https, before anything else', () => {
  const forced = { ...SITE, https_force: true };
  for (const method of ['GET', 'POST']) {
    assert.deepEqual(ask(forced, method, 'http', '/a/..', 'k=v', 'secure.example.com'), {
      status: 301, reason: 'Moved Permanently', body: 'body 301\n', headers: [['location', 'https://secure.example.com/a/..?k=v']],
    });
  }
  assert.deepEqual(ask(forced, 'GET', 'http', '/x', '', 'go.example.com').headers, [['location', 'https://go.example.com/x']]);
  const [path, query] = rawTarget('/ü', 'q=é');
  assert.deepEqual(ask(forced, 'GET', 'http', path, query, 'go.example.com').headers, [['location', 'https://go.example.com/%C3%BC?q=%C3%A9']]);
  assert.equal(ask(forced, 'GET', 'https', '/x').proxy, true);
});

test('rewrite: what to fetch, and the follow-ups on a 404', () => {
  assert.deepEqual(ask(SITE, 'GET', 'https', '/docs', 'v=1', 'site.example.com'), {
    proxy: true, scheme: 'https', path: '/public/docs', suffix: '?v=1', folder: 'redirect',
    folderPath: '/public/docs/index.html', folderLocation: 'https://site.example.com/docs/?v=1', errorPath: '/404.html',
    errorStatus: 404, headers: [['strict-transport-security', 'max-age=600']],
  });
  const folder = ask(SITE, 'HEAD', 'http', '/docs/');
  assert.deepEqual([folder.path, folder.folder, folder.errorPath, folder.headers], ['/public/docs/index.html', null, '/404.html', []]);
  const options = ask(SITE, 'OPTIONS', 'http', '/docs');
  assert.deepEqual([options.folder, options.folderPath, options.errorPath], [null, null, null]);
  const served = ask({ ...SITE, folder: 'serve', scheme: 'http' }, 'GET', 'https', '/d', '');
  assert.deepEqual([served.scheme, served.folder, served.folderLocation, served.suffix], ['http', 'serve', null, '']);
});

test('rewrite: subdir root sends every folder URL to the root index document; the error status is the route\'s', () => {
  const spa = { ...SITE, folder: undefined, root_index: '/public/index.html', error_status: 200 };
  for (const path of ['/', '/docs/', '/a/b/']) {
    assert.equal(ask(spa, 'GET', 'https', path).path, '/public/index.html');
  }
  const file = ask(spa, 'GET', 'https', '/docs');
  assert.deepEqual([file.path, file.folder, file.folderPath, file.errorPath, file.errorStatus], ['/public/docs', null, null, '/404.html', 200]);
});

test('rewrite: a "\\" stays a character of the object path', () => {
  const made = ask(SITE, 'GET', 'https', '/..\\secret.txt');
  assert.equal(made.path, '/public/..\\secret.txt');
});
