// Runs runtimes/nginx_sign.js in the njs CLI (the interpreter nginx embeds) on the cases in the JSON file
// named by the last argument, and prints one JSON answer per case (tests/test_nginx_private.py compares
// them with osscname.signing; one line each: the CLI's console.log cuts long lines): njs -p runtimes tests/js/nginx-sign-harness.js CASES.json
import sign from 'nginx_sign.js';

const fs = require('fs');
const cases = JSON.parse(fs.readFileSync(process.argv[process.argv.length - 1]));

function bytes(list) {
  return sign.byteString(Buffer.from(list));
}

const answers = cases.map((c) => {
  const path = bytes(c.path);
  const query = bytes(c.query);
  const stamp = sign.stampOf(c.now);
  const credentials = sign.credentialsFrom({ oss: c.kind === 'oss', secrets: c.names, where: c.kind }, c.env);
  if (typeof credentials === 'string') {
    return { problem: credentials };
  }
  const target = sign.canonicalTarget(c.kind, path, query);
  return {
    stamp: stamp,
    target: target,
    authorization: sign.authorization(c.kind, credentials, c.region, c.bucket, c.method, c.host, target, stamp),
    presigned: sign.presign(c.kind, credentials, c.region, c.bucket, c.method, c.host, path, query, c.expires, stamp),
    refused: sign.privateRefused(c.base_path, path, query),
  };
});
answers.forEach((answer) => console.log(JSON.stringify(answer)));
