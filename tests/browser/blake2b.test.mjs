// The page's BLAKE2b and request signature (web/blake2b.js, web/sign.js)
// against the C code: tly_hash vectors that tests/test_web.c recomputes
// with wire/codec.c's tly_hash (tly_hash_vectors.json), BLAKE2b-512
// against node's own, and the Ed25519 signature over the request bytes
// checked with node's crypto and the planner key's public half.
//   node tests/browser/blake2b.test.mjs

import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { blake2b, tallyHash, toHex } from '../../web/blake2b.js';
import { importKeyFile, parseKeyFile, signedBytes, signRequest } from '../../web/sign.js';

const data = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

const { vectors, request } = JSON.parse(readFileSync(new URL('./tly_hash_vectors.json', import.meta.url)));
assert.ok(vectors.length >= 30);
for (const v of vectors) {
  assert.equal(toHex(tallyHash(v.domain, data(v.length))), v.hash, `${v.domain} ${v.length}`);
}
for (const n of [0, 1, 127, 128, 129, 256, 1000]) {
  assert.equal(toHex(blake2b(data(n), 64)),
    createHash('blake2b512').update(data(n)).digest('hex'), `blake2b512 ${n}`);
}

// A signature the coordinator would accept: Ed25519 over signedBytes, with
// the public half of the same seed.
const seed = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const der = parseKeyFile(`${seed}\n`);
const pub = createPublicKey(createPrivateKey({ key: Buffer.from(der), format: 'der',
  type: 'pkcs8' }));
assert.equal(pub.export({ format: 'jwk' }).x,
  Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex')
    .toString('base64url'), 'RFC 8032 test 1: the seed gives its public key');
const key = await importKeyFile(seed);
assert.equal(key.extractable, false);
const body = new TextEncoder().encode('{"a":1}');
const header = await signRequest(key, 'planner', 'POST', '/v1/queries', body, 1700000000000);
const m = header.match(/^planner=planner, time=1700000000, nonce=([0-9a-f]{32}), sig=([0-9a-f]{128})$/);
assert.ok(m, header);
const msg = signedBytes('planner', 'POST', '/v1/queries', 1700000000,
  Buffer.from(m[1], 'hex'), body);
assert.ok(verify(null, msg, pub, Buffer.from(m[2], 'hex')), 'signature verifies');
msg[msg.length - 1] ^= 1;
assert.ok(!verify(null, msg, pub, Buffer.from(m[2], 'hex')), 'a changed body hash does not');
assert.throws(() => parseKeyFile('not a key'));

// The bytes signed are C's: Ed25519 is deterministic, so the signature over
// signedBytes with fixed time and nonce equals tly_planner_sign's.
const rq = request;
const rqKey = createPrivateKey({ key: Buffer.from(parseKeyFile(rq.seed)), format: 'der',
  type: 'pkcs8' });
const rqSig = sign(null, signedBytes(rq.name, rq.method, rq.path, rq.time,
  Buffer.from(rq.nonce, 'hex'), new TextEncoder().encode(rq.body)), rqKey).toString('hex');
assert.equal(`planner=${rq.name}, time=${rq.time}, nonce=${rq.nonce}, sig=${rqSig}`, rq.header,
  'the page signs the bytes query/planner.c signs');
console.log(`blake2b test: ok (${vectors.length} tly_hash vectors from C)`);
