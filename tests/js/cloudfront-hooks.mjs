// Node module hooks that load a generated CloudFront Function the way CloudFront does.
//
// CloudFront evaluates the function source as a module whose `import cf from 'cloudfront'` is its
// built-in helper module, and calls the top-level `handler`. Node has neither, so: the specifier
// 'cloudfront' resolves to cloudfront-stub.mjs, and a file imported with the query
// `?cloudfront-function` is loaded verbatim with one line appended that exports `handler`.
const STUB = new URL('./cloudfront-stub.mjs', import.meta.url).href;
const MARK = '?cloudfront-function';

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'cloudfront') {
    return { url: STUB, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.endsWith(MARK)) {
    return nextLoad(url, context);
  }
  const { source } = await nextLoad(url, { ...context, format: 'module' });
  return { format: 'module', source: `${source}\nexport { handler };\n`, shortCircuit: true };
}
