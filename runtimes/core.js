// osscname edge core: what a request to a bound host gets, decided as osscname.decision.decide decides
// it for the middleware (the reference; the tests compare them). Shared by the Cloudflare Worker
// (worker.js) and the CloudFront Function (cloudfront.js). generate-cdn writes one file per platform:
// the JSON route table (the only generated part), this core, then the platform's files:
//
//   const TABLE = {hosts: {domain: route index}, routes: [route, ...], plain: {status: [reason, body]},
//                  allow: 'GET, HEAD, OPTIONS', ...};
//
// A route holds the osscname.model.Route fields a runtime needs, under their Python names (mode, status,
// bucket_host, scheme, root, index_url, error_path, error_status, folder, root_index, https_force, hsts; for a private bucket
// private, private_region, private_expires and, on OSS, bucket, which sign.js reads); an absent one is
// off. Paths and roots are percent-encoded already: nothing here decodes a key.
//
// The platform provides toAscii(name) (a non-ASCII host name as A-labels, or null) and
// validALabel(label): idna.js where there is a URL parser, cloudfront.js's own otherwise.
// A plain script of declarations (no import, no export, no state), so that the unit tests in tests/js
// can load it on its own with a stub table.

// Canonical host name of a raw Host value, or null when it cannot be one (then nothing is bound), as
// osscname.hosts.normalize_host: no port, no trailing dot, lower case, LDH labels of 1-63 characters
// without a leading or trailing hyphen, IDN as valid A-labels, at most 253 characters.
function canonicalHost(raw) {
  if (!raw || raw.length > 300 || raw[0] === '[') {
    return null; // an IPv6 literal: no binding names an address
  }
  let name = raw;
  const colon = name.lastIndexOf(':');
  if (colon >= 0) {
    const port = name.slice(colon + 1);
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
      return null;
    }
    name = name.slice(0, colon);
  }
  if (name.endsWith('.')) {
    name = name.slice(0, -1);
  }
  name = /^[\x00-\x7f]*$/.test(name) ? name.toLowerCase() : toAscii(name);
  return name && name.length <= 253 && validName(name) ? name : null;
}

// LDH labels; in a name that holds 'xn--', IDNA's rules too: valid A-labels, and no '--' in the third
// and fourth place of any other label (the middleware checks such names with IDNA, the others not).
function validName(name) {
  const idna = name.indexOf('xn--') >= 0;
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) {
      return false;
    }
    if (idna && (label.slice(0, 4) === 'xn--' ? !validALabel(label) : label.slice(2, 4) === '--')) {
      return false;
    }
  }
  return true;
}

// The names a canonical host is looked up under, in order: itself, then the wildcards above it, most
// specific first (*.x.com covers every name below x.com at any depth, not x.com itself).
function hostKeys(name) {
  const keys = [name];
  for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
    keys.push('*' + name.slice(dot));
  }
  return keys;
}

// The route of a canonical host name in the table, or null.
function lookup(table, name) {
  const keys = hostKeys(name);
  for (let i = 0; i < keys.length; i++) {
    if (Object.prototype.hasOwnProperty.call(table.hosts, keys[i])) {
      return table.routes[table.hosts[keys[i]]];
    }
  }
  return null;
}

// [path, query] as the middleware reads them (osscname.middleware.request.raw_target): what a URI may
// hold raw (RFC 3986 unreserved, sub-delims, ':', '@', '/', '%' escapes, '?') as sent, anything else
// percent-encoded byte by byte (UTF-8). So a Location is a URI, and a '\' goes upstream as %5C (a
// WHATWG URL parser, fetch()'s, would read it as '/').
function rawTarget(path, query) {
  return [quoteUnclean(path), quoteUnclean(query)];
}

function quoteUnclean(text) {
  if (/^[A-Za-z0-9_.~\-\/:@!$&'()*+,;=%?]*$/.test(text)) {
    return text;
  }
  // Runs of characters, so that both halves of a surrogate pair (V8's strings) are encoded together.
  // Both platforms build these strings from UTF-8, so they hold no lone surrogate.
  return text.replace(/[^A-Za-z0-9_.~\-\/:@!$&'()*+,;=%?]+/g, encodeURIComponent);
}

// A '.' or '..' segment, also percent-encoded (osscname.decision.has_dot_segment): only %2E can decode
// to '.' and %2F to '/'. Segments are split on '/' alone, as the middleware splits them: a '\' is a
// character of the key.
function hasDotSegment(path) {
  return path.replace(/%2e/gi, '.').replace(/%2f/gi, '/').split('/').some((segment) => segment === '.' || segment === '..');
}

// Route.object_path: the object root + the path as sent without its '/', + the index document after a '/'
// (subdir: root, OSS SupportSubDir off: the root index document, root_index, whatever the folder).
function objectPath(route, path) {
  const object = route.root + path.slice(1);
  if (route.index_url && object.endsWith('/')) {
    return route.root_index || object + route.index_url;
  }
  return object;
}

// Route.folder_path: the index document of the path taken as a folder (subdir).
function folderPath(route, path) {
  return route.root + path.slice(1) + '/' + route.index_url;
}

// An answer made without asking the bucket: status, its reason phrase, headers ([name, value] pairs,
// lower-case names) and the middleware's short plain-text body for it.
function answer(table, status, headers) {
  return { status: status, reason: table.plain[status][0], body: table.plain[status][1], headers: headers };
}

// osscname.decision.decide for one request to a bound host: an answer, or {proxy: true, ...} with what
// to fetch (scheme, object path + suffix) and the follow-ups on a 404 for GET and HEAD (folder,
// folderPath, folderLocation, errorPath, errorStatus), and the headers to add to whatever comes back (HSTS).
// path and query come from rawTarget; host is canonical; scheme is the one the viewer used.
function decide(table, route, method, scheme, host, path, query) {
  const suffix = query ? '?' + query : '';
  if (route.https_force && scheme === 'http') {
    return answer(table, 301, [['location', 'https://' + host + path + suffix]]);
  }
  const hsts = route.hsts && scheme === 'https' ? [['strict-transport-security', 'max-age=' + route.hsts]] : [];
  if (route.mode === 'redirect') {
    const location = (route.scheme || scheme) + '://' + route.bucket_host + objectPath(route, path) + suffix;
    return answer(table, route.status, [['location', location]].concat(hsts));
  }
  if (table.allow.split(', ').indexOf(method) < 0) {
    return answer(table, 405, [['allow', table.allow]].concat(hsts));
  }
  if (hasDotSegment(path)) {
    return answer(table, 400, hsts);
  }
  const follow = method !== 'OPTIONS'; // a CORS preflight is about the object itself
  const folder = follow && !path.endsWith('/') && route.folder ? route.folder : null;
  return {
    proxy: true,
    scheme: route.scheme || scheme,
    path: objectPath(route, path),
    suffix: suffix,
    folder: folder,
    folderPath: folder ? folderPath(route, path) : null,
    folderLocation: folder === 'redirect' ? scheme + '://' + host + path + '/' + suffix : null,
    errorPath: follow && route.error_path ? route.error_path : null,
    errorStatus: route.error_status || 404, // what the error document's 200 is answered with (200: single-page apps)
    headers: hsts,
  };
}
