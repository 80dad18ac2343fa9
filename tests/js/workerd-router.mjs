// The network a generated Worker sees in the tests: it is the Worker's globalOutbound.
//
// On Cloudflare, a Worker's fetch() reaches the host named in its URL: a bucket host is the OSS
// endpoint (or an S3-compatible server), and any other host (fetch(request) for an unbound domain) is
// the zone's origin. Here env.BUCKETS maps each bucket host to the binding of the local server that
// stands for it (ORIGIN: the local OSS-like origin; others: an S3 server), an external service on
// 127.0.0.1 reached with the Host of the URL; any other host gets the answer every conformance harness
// gives for an unbound host: 200 "app\n". The Worker itself knows none of this.
// The host is read off the URL as text: a request passed on untouched may carry a Host no URL parser
// takes (img.abc.com:http), and the zone's origin would answer it all the same.
export default {
  async fetch(request, env) {
    const authority = request.url.slice(request.url.indexOf('//') + 2).split('/')[0];
    if (Object.prototype.hasOwnProperty.call(env.BUCKETS, authority)) {
      return env[env.BUCKETS[authority]].fetch(request);
    }
    return new Response('app\n', { status: 200, headers: { 'content-type': 'text/plain' } });
  },
};
