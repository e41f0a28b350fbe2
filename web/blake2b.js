// BLAKE2b (RFC 7693), unkeyed, any output length 1..64: the hash under
// tally's tly_hash (wire/codec.h), which WebCrypto does not have.
// 64-bit words as pairs of 32-bit halves in a Uint32Array (lo, hi).
// Checked against vectors from the C code (tests/browser/blake2b.test.mjs).

const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372,
  0x5f1d36f1, 0xa54ff53a, 0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c,
  0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

// v[a] += v[b] (64-bit, on halves at 2a, 2a+1)
function add(v, a, b) {
  const lo = v[2 * a] + v[2 * b];
  let hi = v[2 * a + 1] + v[2 * b + 1];
  if (lo >= 0x100000000) hi++;
  v[2 * a] = lo;
  v[2 * a + 1] = hi;
}

// v[a] += m[i]
function addm(v, a, m, i) {
  const lo = v[2 * a] + m[2 * i];
  let hi = v[2 * a + 1] + m[2 * i + 1];
  if (lo >= 0x100000000) hi++;
  v[2 * a] = lo;
  v[2 * a + 1] = hi;
}

// v[d] = rotr64(v[d] ^ v[a], n)
function xorRot(v, d, a, n) {
  const xl = v[2 * d] ^ v[2 * a];
  const xh = v[2 * d + 1] ^ v[2 * a + 1];
  let lo, hi;
  if (n === 32) {
    lo = xh;
    hi = xl;
  } else if (n < 32) {
    lo = (xl >>> n) | (xh << (32 - n));
    hi = (xh >>> n) | (xl << (32 - n));
  } else {
    const k = n - 32;
    lo = (xh >>> k) | (xl << (32 - k));
    hi = (xl >>> k) | (xh << (32 - k));
  }
  v[2 * d] = lo;
  v[2 * d + 1] = hi;
}

function mix(v, m, a, b, c, d, x, y) {
  add(v, a, b);
  addm(v, a, m, x);
  xorRot(v, d, a, 32);
  add(v, c, d);
  xorRot(v, b, c, 24);
  add(v, a, b);
  addm(v, a, m, y);
  xorRot(v, d, a, 16);
  add(v, c, d);
  xorRot(v, b, c, 63);
}

function compress(h, block, t, last) {
  const v = new Uint32Array(32);
  const m = new Uint32Array(32);
  for (let i = 0; i < 32; i++) {
    m[i] = block[4 * i] | (block[4 * i + 1] << 8) | (block[4 * i + 2] << 16) |
      (block[4 * i + 3] << 24);
  }
  v.set(h, 0);
  v.set(IV, 16);
  v[24] ^= t % 0x100000000; // t fits 53 bits: the low word and the high word
  v[25] ^= Math.floor(t / 0x100000000);
  if (last) {
    v[28] = ~v[28];
    v[29] = ~v[29];
  }
  for (let r = 0; r < 12; r++) {
    const s = SIGMA[r];
    mix(v, m, 0, 4, 8, 12, s[0], s[1]);
    mix(v, m, 1, 5, 9, 13, s[2], s[3]);
    mix(v, m, 2, 6, 10, 14, s[4], s[5]);
    mix(v, m, 3, 7, 11, 15, s[6], s[7]);
    mix(v, m, 0, 5, 10, 15, s[8], s[9]);
    mix(v, m, 1, 6, 11, 12, s[10], s[11]);
    mix(v, m, 2, 7, 8, 13, s[12], s[13]);
    mix(v, m, 3, 4, 9, 14, s[14], s[15]);
  }
  for (let i = 0; i < 16; i++) h[i] ^= v[i] ^ v[i + 16];
}

/** BLAKE2b of data (a Uint8Array) with outLen bytes (1..64) of output. */
export function blake2b(data, outLen = 64) {
  if (!(outLen >= 1 && outLen <= 64)) throw new RangeError('outLen must be 1..64');
  const h = new Uint32Array(IV);
  h[0] ^= 0x01010000 ^ outLen; // parameter block: no key, fanout 1, depth 1
  const block = new Uint8Array(128);
  let t = 0;
  let off = 0;
  // Every full block but the last is compressed as it comes.
  while (data.length - off > 128) {
    block.set(data.subarray(off, off + 128));
    t += 128;
    compress(h, block, t, false);
    off += 128;
  }
  block.fill(0);
  block.set(data.subarray(off));
  t += data.length - off;
  compress(h, block, t, true);
  const out = new Uint8Array(outLen);
  for (let i = 0; i < outLen; i++) out[i] = h[i >> 2] >>> (8 * (i & 3));
  return out;
}

const utf8 = new TextEncoder();

/** tly_hash(domain, data): BLAKE2b-256 of u8 len(domain) || domain || data. */
export function tallyHash(domain, data) {
  const d = utf8.encode(domain);
  const all = new Uint8Array(1 + d.length + data.length);
  all[0] = d.length;
  all.set(d, 1);
  all.set(data, 1 + d.length);
  return blake2b(all, 32);
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
