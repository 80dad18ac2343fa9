// Runs a generated CloudFront Function in node on events, as CloudFront's viewer-request trigger would.
//
//   node cloudfront-harness.mjs FUNCTION.js < events.json > results.json
//
// stdin: a JSON list of {event, rawQuery}; rawQuery (a string, or null for "no '?'") becomes the
// request's rawQueryString() helper, and is left out to model a runtime without that helper.
// stdout: one result per event: {response} when the function answered, {request, origins} when it
// passed the request on (origins: the updateRequestOrigin calls), or {error}.
import { register } from 'node:module';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

register('./cloudfront-hooks.mjs', import.meta.url);
const { calls } = await import('./cloudfront-stub.mjs');
const { handler } = await import(`${pathToFileURL(process.argv[2]).href}?cloudfront-function`);

const results = [];
for (const { event, rawQuery } of JSON.parse(readFileSync(0, 'utf8'))) {
  calls.origins = [];
  if (rawQuery !== undefined) {
    event.request.rawQueryString = () => (rawQuery === null ? undefined : rawQuery);
  }
  try {
    const result = await handler(event);
    results.push('statusCode' in result ? { response: result } : { request: result, origins: calls.origins });
  } catch (error) {
    results.push({ error: String(error && error.stack ? error.stack : error) });
  }
}
process.stdout.write(JSON.stringify(results));
