// Differential oracle for ancora-chainweb's Pact command hashing and signing: Kadena's own
// @kadena/cryptography-utils hashes and signs each command the Rust test hands over.
//
// stdin:  a JSON array of {"cmd": string, "secretKey": hex, "publicKey": hex}
// stdout: a JSON array, same order, of {"hash", "sig", "hashFromSign", "sigFromSignHash"}
//         (`hash` from hash(), `sig`/`hashFromSign` from sign(), `sigFromSignHash` from
//         signHash() over hash()'s output) so that every entry point is compared.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { hash, sign, signHash } = require('@kadena/cryptography-utils');

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const out = cases.map(({ cmd, secretKey, publicKey }) => {
  const keyPair = { secretKey, publicKey };
  const h = hash(cmd);
  const signed = sign(cmd, keyPair);
  const fromHash = signHash(h, keyPair);
  return { hash: h, sig: signed.sig, hashFromSign: signed.hash, sigFromSignHash: fromHash.sig };
});
process.stdout.write(JSON.stringify(out));
