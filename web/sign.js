// The planner's signature over one API request (query/planner.h), made in
// the page with WebCrypto's Ed25519. The key never leaves the page: it is
// imported from the planner's key file (`tally pki issue --role planner`
// writes NAME.sign: a 32-byte Ed25519 seed as 64 hex digits) as a
// non-extractable CryptoKey, held in memory only, and the file's text is
// dropped at once.

import { tallyHash, toHex } from './blake2b.js';

const utf8 = new TextEncoder();
// PKCS#8 for an Ed25519 private key (RFC 8410): this prefix, then the seed.
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
  0x04, 0x22, 0x04, 0x20];

/** Parse a key file's text: 64 hex digits and an optional newline. */
export function parseKeyFile(text) {
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error('not a planner key file: expected 64 lowercase hex digits (NAME.sign)');
  }
  const der = new Uint8Array(48);
  der.set(PKCS8_PREFIX);
  for (let i = 0; i < 32; i++) der[16 + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return der;
}

/** A non-extractable signing key from a key file's text. */
export async function importKeyFile(text) {
  const der = parseKeyFile(text);
  try {
    return await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
  } finally {
    der.fill(0);
  }
}

function u16(n) {
  return [(n >>> 8) & 0xff, n & 0xff];
}

function u64(n) {
  const out = new Uint8Array(8);
  let x = BigInt(n);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** The bytes the signature covers (query/planner.c signed_bytes). */
export function signedBytes(name, method, path, time, nonce, body) {
  const parts = [
    utf8.encode('tally/request/v1'),
    Uint8Array.of(utf8.encode(name).length), utf8.encode(name),
    Uint8Array.of(utf8.encode(method).length), utf8.encode(method),
    Uint8Array.from(u16(utf8.encode(path).length)), utf8.encode(path),
    u64(time), nonce, tallyHash('tally/request-body/v1', body),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The Tally-Signature header value for a request (body: Uint8Array). */
export async function signRequest(key, name, method, path, body, now = Date.now()) {
  const time = Math.floor(now / 1000);
  const nonce = crypto.getRandomValues(new Uint8Array(16));
  const msg = signedBytes(name, method, path, time, nonce, body);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, msg));
  return `planner=${name}, time=${time}, nonce=${toHex(nonce)}, sig=${toHex(sig)}`;
}
