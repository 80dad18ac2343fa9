// The `cloudfront` module of runtime cloudfront-js-2.0, reduced to what osscname's function uses,
// with the documented constraints checked so that a call CloudFront would reject fails here too.
//
// updateRequestOrigin: domainName has no ':' and is not an IP address; customOriginConfig needs
// port, protocol (http | https) and sslProtocols. kvs(): the store associated with the function,
// read from the import file named by OSSCNAME_KVS (the --format kvs output); get() rejects a
// missing key and parses values with { format: 'json' }.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export const calls = { origins: [] };

function checkOrigin(origin) {
  const name = origin.domainName;
  if (typeof name !== 'string' || !name || name.includes(':') || isIP(name) || name.length > 253) {
    throw new Error(`updateRequestOrigin: invalid domainName ${JSON.stringify(name)}`);
  }
  const custom = origin.customOriginConfig;
  if (custom && (!Number.isInteger(custom.port) || !['http', 'https'].includes(custom.protocol) || !Array.isArray(custom.sslProtocols))) {
    throw new Error(`updateRequestOrigin: invalid customOriginConfig ${JSON.stringify(custom)}`);
  }
}

function openStore() {
  const file = process.env.OSSCNAME_KVS;
  if (!file) {
    throw new Error('cf.kvs(): no KeyValueStore is associated with this function');
  }
  const entries = new Map();
  for (const { key, value } of JSON.parse(readFileSync(file, 'utf8')).data) {
    if (entries.has(key)) {
      throw new Error(`KeyValueStore import: duplicate key ${key}`);
    }
    entries.set(key, value);
  }
  return {
    async get(key, options) {
      if (!entries.has(key)) {
        throw new Error(`KeyValueStore: key not found: ${key}`);
      }
      const value = entries.get(key);
      return options && options.format === 'json' ? JSON.parse(value) : value;
    },
  };
}

export default {
  updateRequestOrigin(origin) {
    checkOrigin(origin);
    calls.origins.push(origin);
  },
  kvs: openStore,
};
