import cf from 'cloudfront';

// osscname CloudFront Function runtime (cloudfront-js-2.0, viewer-request), after the route table and
// core.js in the file generate-cdn --target cloudfront writes.
//
// - Add every bound domain as an alternate domain name of the distribution. A wildcard alternate name
//   covers ONE label: a.b.cdn.example.org never reaches *.cdn.example.org's distribution.
// - Cache policy: include the Host header in the cache key; forward all query strings. Rewrites set the
//   origin (domain name, protocol, port) with cf.updateRequestOrigin; CloudFront sends that name as Host.
// - Unbound hosts are returned untouched to the default origin.
// - Queries come back verbatim from request.rawQueryString(); where it is missing the query is rebuilt
//   from the parsed querystring: only k=v pairs come back verbatim (a bare k becomes k=, repeated
//   keys are grouped in order of first appearance).
// - TABLE.viewer_scheme is the scheme viewers use (the function cannot see it): --viewer-scheme.
// - Without TABLE.hosts, routes are read from the KeyValueStore associated with the function: key = a
//   domain, value = the JSON of its route (generate-cdn --format kvs writes the import file).
// - Only what cloudfront-js-2.0 documents is used (ES 5.1 with let, const, arrows, async; no for-of,
//   no destructuring, no URL).

const store = TABLE.hosts ? null : cf.kvs();

// What core.js leaves to the platform. CloudFront checks the Host against the distribution's alternate
// domain names, and this runtime has neither a URL parser nor an IDNA table: a non-ASCII Host is no
// name, and an A-label is taken as it is (declared on the wildcard feature).
function toAscii() {
  return null;
}

function validALabel() {
  return true;
}

// The route of a canonical host name, from the inline table or the KeyValueStore.
async function route(name) {
  if (!store) {
    return lookup(TABLE, name);
  }
  const keys = hostKeys(name);
  for (let i = 0; i < keys.length; i++) {
    try {
      return await store.get(keys[i], { format: 'json' });
    } catch (missing) {
      // not under this name: the next one
    }
  }
  return null;
}

function rawQuery(request) {
  if (typeof request.rawQueryString === 'function') {
    return request.rawQueryString() || '';
  }
  const pairs = [];
  for (const name in request.querystring) {
    const field = request.querystring[name];
    (field.multiValue || [field]).forEach((item) => pairs.push(name + '=' + item.value));
  }
  return pairs.join('&');
}

// An answer of decide() as the function's response (CloudFront sends no body for HEAD).
function reply(made) {
  const headers = { 'content-type': { value: 'text/plain; charset=utf-8' } };
  made.headers.forEach((header) => {
    headers[header[0]] = { value: header[1] };
  });
  return { statusCode: made.status, statusDescription: made.reason, headers: headers, body: { encoding: 'text', data: made.body } };
}

async function handler(event) {
  const request = event.request;
  const host = canonicalHost(request.headers.host ? request.headers.host.value : '');
  const found = host === null ? null : await route(host);
  if (!found) {
    return request;
  }
  const target = rawTarget(request.uri, rawQuery(request));
  const decision = decide(TABLE, found, request.method, TABLE.viewer_scheme, host, target[0], target[1]);
  if (!decision.proxy) {
    return reply(decision);
  }
  cf.updateRequestOrigin({
    domainName: found.bucket_host,
    customOriginConfig: { port: decision.scheme === 'https' ? 443 : 80, protocol: decision.scheme, sslProtocols: ['TLSv1.2'] },
    originAccessControlConfig: { enabled: false },
    customHeaders: {},
  });
  request.uri = decision.path;
  return request;
}
