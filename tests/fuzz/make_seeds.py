#!/usr/bin/env python3
"""Write seed inputs for tests/fuzz/fuzz_codec.c: one valid input per
decoder (selector byte, then the body), following wire/messages.h."""
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "fuzz_codec")
os.makedirs(out, exist_ok=True)
P = (1 << 61) - 1


def ids(xs):
    return struct.pack(">I", len(xs)) + b"".join(struct.pack(">I", x) for x in xs)


def write(name, selector, body):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([selector]) + body)


# 0: a whole message (ABORT from the coordinator); the signature is junk.
header = struct.pack(">BBH16sIIII", 1, 2, 0, bytes(range(16)), 0xFF, 0, 0xFFFFFFFF, 4)
write("envelope_abort", 0, header + struct.pack(">I", 1) + bytes(64))
# 1: a committee query, 4 participants, committee of 3, t = 2, q = 3.
query = (bytes([0xAB] * 32) + struct.pack(">BBHI", 1, 1, 3, 12)
         + struct.pack(">QQQQ", 1, 2, 1, 1) + struct.pack(">IIHHI", 2, 3, 2, 3, 5000)
         + ids([1, 2, 5, 9]) + ids([1, 2, 5]) + struct.pack(">I", 0))
write("query_committee", 1, query)
write("idlist", 2, ids([3, 4, 100]))
write("announce", 3, struct.pack(">I", 1) + ids([1, 2, 3]))
write("key_list", 4, struct.pack(">I", 2) + b"".join(
    struct.pack(">I", i) + bytes([i] * 64) + bytes(64) for i in (2, 5)))
write("signature_list", 5, struct.pack(">I", 2) + b"".join(
    struct.pack(">I", i) + bytes(64) for i in (2, 5)))
write("unmask", 6, struct.pack(">I", 2) + b"".join(
    struct.pack(">IB3x", i, k) + struct.pack(">5Q", 1, 2, 3, 4, 5) for i, k in ((2, 1), (5, 2))))
write("advertise", 7, bytes(range(64)))
write("vector", 8, struct.pack(">4Q", 0, 1, P - 1, 12345))
write("share_sum", 9, struct.pack(">I", 0) + bytes(32) + struct.pack(">2Q", 7, P - 1))
write("abort", 10, struct.pack(">I", 3))
# 11: SET_SIGN (attempt, set hash); 12: SET_CERT (attempt, set, votes).
write("set_sign", 11, struct.pack(">I", 1) + bytes(range(32)))
write("set_cert", 12, struct.pack(">I", 0) + ids([1, 2, 5, 9]) + struct.pack(">I", 3) + b"".join(
    struct.pack(">I", i) + bytes([i] * 64) for i in (1, 2, 4)))
# 13: SHARE's two forms: seeded (form byte 2, sealed 32-byte seed) and
# whole (the sealed elements of d = 3).
write("share_seeded", 13, bytes([2]) + bytes(range(48)))
write("share_whole", 13, bytes(3 * 8 + 16))
