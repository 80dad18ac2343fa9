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
//   then the error document (a key from the bucket's root) is served with status 404.
// - fetch() reads its URL with the WHATWG parser, which takes '\' for '/' and then removes dot
//   segments: the path reaches it as the middleware sends it, '\' as %5C (core.js rawTarget), so the
//   key fetched is the key the middleware fetches and never one outside the object root.

// Conditions and ranges apply to the requested object, not to a folder probe or an error document.
const CONDITIONAL = ['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];

// An answer of decide() (or of the follow-ups) as a Response; HEAD gets no body.
function respond(request, made) {
  const headers = new Headers(made.headers);
  headers.set('content-type', 'text/plain; charset=utf-8');
  return new Response(request.method === 'HEAD' ? null : made.body, { status: made.status, headers });
}

function upstream(request, url, method, conditional) {
  const headers = new Headers(request.headers);
  headers.delete('host');
  if (!conditional) {
    CONDITIONAL.forEach((name) => headers.delete(name));
  }
  return fetch(url, { method, headers, redirect: 'manual' });
}

// The bucket said 404 to a GET or HEAD: the folder URL without its slash (subdir), then the error document.
async function missing(request, response, decision, origin) {
  if (decision.folder) {
    const folder = origin + decision.folderPath;
    if (decision.folder === 'serve') {
      const served = await upstream(request, folder + decision.suffix, request.method, true);
      if (served.status !== 404) {
        return served;
      }
    } else if ((await upstream(request, folder, 'HEAD', false)).status === 200) {
      return respond(request, answer(TABLE, 302, [['location', decision.folderLocation]]));
    }
  }
  if (!decision.errorPath) {
    return response;
  }
  const page = await upstream(request, origin + decision.errorPath, request.method, false);
  return page.status === 200 ? new Response(page.body, { status: 404, headers: page.headers }) : page;
}

async function forward(request, route, decision) {
  const origin = decision.scheme + '://' + route.bucket_host;
  try {
    const response = await upstream(request, origin + decision.path + decision.suffix, request.method, true);
    return response.status === 404 && (decision.folder || decision.errorPath) ? await missing(request, response, decision, origin) : response;
  } catch (unreachable) {
    return respond(request, answer(TABLE, 502, []));
  }
}

export default {
  async fetch(request) {
    const host = canonicalHost(request.headers.get('host') || '');
    const route = host === null ? null : lookup(TABLE, host);
    if (!route) {
      return fetch(request);
    }
    const url = request.url;
    const scheme = url.startsWith('https:') ? 'https' : 'http';
    const slash = url.indexOf('/', scheme.length + 3);
    const sent = slash < 0 ? '/' : url.slice(slash);
    const question = sent.indexOf('?');
    const target = question < 0 ? rawTarget(sent, '') : rawTarget(sent.slice(0, question), sent.slice(question + 1));
    const decision = decide(TABLE, route, request.method, scheme, host, target[0], target[1]);
    if (!decision.proxy) {
      return respond(request, decision);
    }
    const response = await forward(request, route, decision);
    if (!decision.headers.length) {
      return response;
    }
    const secured = new Response(response.body, response);
    decision.headers.forEach(([name, value]) => secured.headers.set(name, value));
    return secured;
  },
};
