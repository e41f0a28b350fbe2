#!/usr/bin/env python3
"""Write seed inputs for tests/fuzz/fuzz_shamir.c: genuine 32-byte-secret
sharings (which are also valid 5-element vector sharings), in the harness's
format: t, count, flags (bit 0: 8-byte indices), big-endian indices, shares.
Deterministic: the same files on every run."""
import os
import random
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "fuzz_shamir")
os.makedirs(out, exist_ok=True)
P = (1 << 61) - 1
rnd = random.Random(7)


def share_secret(secret, t, n):
    """Shares at x = 1..n of the 5 big-endian 56-bit chunks (last: 32 bits)."""
    chunks = [int.from_bytes(secret[7 * c:min(7 * c + 7, 32)], "big") for c in range(5)]
    shares = [b""] * n
    for chunk in chunks:
        coeffs = [chunk] + [rnd.randrange(P) for _ in range(t - 1)]
        for i in range(n):
            value = sum(c * pow(i + 1, k, P) for k, c in enumerate(coeffs)) % P
            shares[i] += struct.pack(">Q", value)
    return shares


def write(name, t, xs, shares, wide=False):
    body = bytes([t, len(xs), 1 if wide else 0])
    body += b"".join(struct.pack(">Q" if wide else ">H", x) for x in xs)
    body += b"".join(shares)
    with open(os.path.join(out, name), "wb") as f:
        f.write(body)


secret = bytes(rnd.randrange(256) for _ in range(32))
s = share_secret(secret, 2, 3)
write("t2_of_3", 2, [3, 1], [s[2], s[0]])
s = share_secret(secret, 3, 5)
write("t3_of_5_extra", 3, [5, 2, 4, 1], [s[4], s[1], s[3], s[0]])
s = share_secret(bytes([0xFF] * 32), 4, 7)
write("t4_of_7_wide", 4, [7, 6, 5, 4], [s[6], s[5], s[4], s[3]], wide=True)
write("t1", 1, [9], [share_secret(bytes(32), 1, 9)[8]])
