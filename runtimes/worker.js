// osscname Cloudflare Worker runtime (module syntax), after the route table and core.js in the file
// generate-cdn --target cloudflare writes. Add a route (or custom domain) for every bound domain.
//
// - Unbound hosts, and Host values the middleware would not take for a name (a bad port, '_', an empty
//   label, an invalid A-label, ...), are passed on untouched with fetch(request): the zone's origin answers.
// - The request target is read as sent from request.url (Cloudflare's URL normalization, when enabled
//   for the zone, applies before the Worker); the query is kept verbatim; raw non-ASCII is
//   percent-encoded as the middleware does.
// - https.force answers plain http with a 301 to https first; hsts adds Strict-Transport-Security
//   to every https answer of the binding.
// - Rewrite bindings fetch the bucket with its own Host (a Worker's fetch sends the Host of its URL),
//   for GET, HEAD and OPTIONS (others: 405). A path with a "." or ".." segment gets 400. On a 404 for
//   GET or HEAD: a folder URL without its slash is served, redirected (302) or left 404 per subdir,
//   then the error document (a key from the bucket's root) is served with its status (404, or 200 for a
//   single-page app). subdir: root sends every folder URL to the root index document (core.js objectPath).
// - fetch() reads its URL with the WHATWG parser, which takes '\' for '/' and then removes dot
//   segments: the path reaches it as the middleware sends it, '\' as %5C (core.js rawTarget), so the
//   key fetched is the key the middleware fetches and never one outside the object root.
// - A private bucket (sign.js): every fetch of a rewrite (the object, the folder probe or serve, the
//   error document) is signed, OSS V4 or SigV4, and sends the canonical target the signature covers; the
//   client's own Authorization, x-oss-* / x-amz-* (and on OSS Content-Type, Content-MD5) stay behind. A
//   redirect's Location is presigned for private_expires seconds, for HEAD when the request is a HEAD and
//   for GET otherwise (never for a method that writes). The secrets come from the Worker's env; when
//   one is missing or malformed the Worker answers 500 naming it, rather than send the bucket an
//   unsigned request that it would refuse with 403.

// Conditions and ranges apply to the requested object, not to a folder probe or an error document.
const CONDITIONAL = ['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];

// An answer of decide() (or of the follow-ups) as a Response; HEAD gets no body.
function respond(request, made) {
  const headers = new Headers(made.headers);
  headers.set('content-type', 'text/plain; charset=utf-8');
  return new Response(request.method === 'HEAD' ? null : made.body, { status: made.status, headers });
}

// One fetch from the bucket: the client's headers but Host (and but the conditions, for a follow-up),
// target = path (percent-encoded) and query; for a private bucket, signed (bucket.signature set).
async function upstream(request, bucket, path, query, method, conditional) {
  const headers = new Headers(request.headers);
  headers.delete('host');
  if (!conditional) {
    CONDITIONAL.forEach((name) => headers.delete(name));
  }
  let target = query ? path + '?' + query : path;
  if (bucket.signature) {
    Array.from(headers.keys()).filter((name) => isReservedHeader(bucket.signature, name)).forEach((name) => headers.delete(name));
    const route = bucket.route;
    const signed = await signRequest(bucket.signature, bucket.credentials, route.private_region, route.bucket, method, route.bucket_host, path, query,
      Date.now() / 1000);
    signed.headers.forEach(([name, value]) => headers.set(name, value));
    target = signed.target;
  }
  return fetch(bucket.origin + target, { method, headers, redirect: 'manual' });
}

// The bucket said 404 to a GET or HEAD: the folder URL without its slash (subdir), then the error document.
async function missing(request, response, decision, bucket, query) {
  if (decision.folder) {
    if (decision.folder === 'serve') {
      const served = await upstream(request, bucket, decision.folderPath, query, request.method, true);
      if (served.status !== 404) {
        return served;
      }
    } else if ((await upstream(request, bucket, decision.folderPath, '', 'HEAD', false)).status === 200) {
      return respond(request, answer(TABLE, 302, [['location', decision.folderLocation]]));
    }
  }
  if (!decision.errorPath) {
    return response;
  }
  const page = await upstream(request, bucket, decision.errorPath, '', request.method, false);
  return page.status === 200 ? new Response(page.body, { status: decision.errorStatus, headers: page.headers }) : page;
}

// bucket: {origin, route, signature and credentials (a private bucket's; else null)}.
async function forward(request, decision, bucket) {
  const query = decision.suffix.slice(1);
  try {
    const response = await upstream(request, bucket, decision.path, query, request.method, true);
    return response.status === 404 && (decision.folder || decision.errorPath) ? await missing(request, response, decision, bucket, query) : response;
  } catch (unreachable) {
    return respond(request, answer(TABLE, 502, []));
  }
}

// urllib.parse.unquote, near enough for names and emptiness: each run of escapes decoded as UTF-8,
// a run that is not UTF-8 kept as sent.
function unquote(text) {
  return text.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch (notUtf8) {
      return run;
    }
  });
}

// osscname.decision.private_refused: what a private binding refuses, since the site's credentials would
// grant it to anyone: the bucket's root (a key of slashes only: its listing) and the parameters of
// table.private_refused (an object's ACL, its other versions, ...) or response-*, in any case or encoding.
function privateRefused(table, route, objectPath, query) {
  if (!unquote(objectPath.slice((route.base_path || '').length)).replace(/\//g, '')) {
    return true;
  }
  return query.split('&').some((piece) => {
    const name = unquote(piece.split('=', 1)[0]).toLowerCase();
    return table.private_refused.indexOf(name) >= 0 || name.startsWith('response-');
  });
}

// What a private route answers before anything is signed, as osscname.decision.decide does: a
// presigned redirect's dot segments get 400 (the signature would vouch for the path), and what
// privateRefused names gets 403; decide()'s decision otherwise.
function privateDecision(table, route, decision, path, query) {
  const presign = route.mode === 'redirect' && decision.status === route.status;
  if (!presign && !decision.proxy) {
    return decision; // answered without the bucket: https.force, 405, 400
  }
  const hsts = presign ? decision.headers.slice(1) : decision.headers;
  if (presign && hasDotSegment(path)) {
    return answer(table, 400, hsts);
  }
  return privateRefused(table, route, objectPath(route, path), query) ? answer(table, 403, hsts) : decision;
}

// A private bucket's redirect: decide()'s answer with its Location (origin + object path + query)
// replaced by the presigned URL of the same object and query.
async function presigned(request, decision, route, signature, credentials, scheme, path, query) {
  const method = request.method === 'HEAD' ? 'HEAD' : 'GET';
  const target = await presignRequest(signature, credentials, route.private_region, route.bucket, method, route.bucket_host,
    objectPath(route, path), query, route.private_expires, Date.now() / 1000);
  const location = (route.scheme || scheme) + '://' + route.bucket_host + target;
  // no cache may replay a URL that expires (osscname.decision.PRESIGNED_CACHE_CONTROL)
  const headers = [['location', location], ['cache-control', TABLE.presigned_cache_control]];
  return respond(request, { ...decision, headers: headers.concat(decision.headers.slice(1)) });
}

export default {
  async fetch(request, env) {
    const host = canonicalHost(request.headers.get('host') || '');
    const route = host === null ? null : lookup(TABLE, host);
    if (!route) {
      try {
        return await fetch(request);
      } catch (unreachable) {
        // The zone's origin could not be asked (workerd refuses to send some Host values on): a proxy's 502.
        return respond(request, answer(TABLE, 502, []));
      }
    }
    const url = request.url;
    const scheme = url.startsWith('https:') ? 'https' : 'http';
    const slash = url.indexOf('/', scheme.length + 3);
    const sent = slash < 0 ? '/' : url.slice(slash);
    const question = sent.indexOf('?');
    const target = question < 0 ? rawTarget(sent, '') : rawTarget(sent.slice(0, question), sent.slice(question + 1));
    const decided = decide(TABLE, route, request.method, scheme, host, target[0], target[1]);
    const decision = route.private ? privateDecision(TABLE, route, decided, target[0], target[1]) : decided;
    // decide() answers a redirect binding with its redirect, unless https.force answers first with a 301
    // (a private redirect is a 302 or a 307: the loader refuses the cached statuses).
    const presign = route.private && route.mode === 'redirect' && decision.status === route.status;
    if (!decision.proxy && !presign) {
      return respond(request, decision);
    }
    const signature = route.private ? signatureFor(route) : null;
    const credentials = signature ? credentialsFrom(signature, env) : null;
    if (typeof credentials === 'string') {
      // The binding's headers but a Location: HSTS on https.
      const headers = decision.proxy ? decision.headers : decision.headers.slice(1);
      return respond(request, { status: 500, reason: 'Internal Server Error', body: '500 Internal Server Error: ' + credentials + '\n', headers });
    }
    if (presign) {
      return presigned(request, decision, route, signature, credentials, scheme, target[0], target[1]);
    }
    const response = await forward(request, decision, { origin: decision.scheme + '://' + route.bucket_host, route, signature, credentials });
    if (!decision.headers.length) {
      return response;
    }
    const secured = new Response(response.body, response);
    decision.headers.forEach(([name, value]) => secured.headers.set(name, value));
    return secured;
  },
};
