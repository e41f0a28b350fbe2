#!/usr/bin/env python3
"""Re-check the standard vector files in this directory against an
independent implementation (pyca/cryptography and hashlib/hmac), to catch
transcription errors in the values copied from the RFCs and NIST documents.

Not run by the build: a maintainer runs it after editing a vector file.

    python3 tests/vectors/check_vectors.py [TLY_VECTORS_DIR]

Set TLY_SLOW_TESTS=1 to include the 1,000,000-iteration X25519 case.
"""
import hashlib
import hmac
import os
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives.asymmetric.x25519 import (X25519PrivateKey,
                                                              X25519PublicKey)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def load(path):
    """The format documented at the top of every vector file."""
    blocks, block, last = [], {}, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            if line.strip() == "":
                if block:
                    blocks.append(block)
                block, last = {}, None
                continue
            if line[0] in " \t":
                block[last] += " " + line.strip()
                continue
            name, _, value = line.partition("=")
            last = name.strip()
            block[last] = value.strip()
    if block:
        blocks.append(block)
    return blocks


def hexv(block, name):
    return bytes.fromhex("".join(block[name].split()))


def intv(block, name):
    return int(block[name])


def chacha20_xor(key, nonce, counter, data):
    iv = struct.pack("<I", counter) + nonce
    enc = Cipher(algorithms.ChaCha20(key, iv), mode=None).encryptor()
    return enc.update(data)


def hchacha20(key, nonce16):
    def rotl(v, c):
        return ((v << c) & 0xffffffff) | (v >> (32 - c))

    def qr(s, a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 7)

    s = list(struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key) +
             struct.unpack("<4I", nonce16))
    for _ in range(10):
        qr(s, 0, 4, 8, 12); qr(s, 1, 5, 9, 13); qr(s, 2, 6, 10, 14); qr(s, 3, 7, 11, 15)
        qr(s, 0, 5, 10, 15); qr(s, 1, 6, 11, 12); qr(s, 2, 7, 8, 13); qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def x25519(scalar, u):
    shared = X25519PrivateKey.from_private_bytes(scalar).exchange(
        X25519PublicKey.from_public_bytes(u))
    return shared


def check_chacha20(b):
    out = chacha20_xor(hexv(b, "key"), hexv(b, "nonce"), intv(b, "counter"), hexv(b, "plaintext"))
    return out == hexv(b, "ciphertext")


def check_aes128ctr(b):
    enc = Cipher(algorithms.AES(hexv(b, "key")), modes.CTR(hexv(b, "iv"))).encryptor()
    return enc.update(hexv(b, "input")) + enc.finalize() == hexv(b, "output")


def check_x25519(b):
    return x25519(hexv(b, "scalar"), hexv(b, "u")) == hexv(b, "out")


def check_x25519_iterated(b):
    n = intv(b, "iterations")
    if n > 1000 and not os.environ.get("TLY_SLOW_TESTS"):
        return None
    k = u = hexv(b, "start")
    for _ in range(n):
        k, u = x25519(k, u), k
    return k == hexv(b, "out")


def check_x25519_dh(b):
    def public(sk):
        return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw)
    a, bb = hexv(b, "alice_secret"), hexv(b, "bob_secret")
    return (public(a) == hexv(b, "alice_public") and public(bb) == hexv(b, "bob_public") and
            x25519(a, hexv(b, "bob_public")) == hexv(b, "shared") and
            x25519(bb, hexv(b, "alice_public")) == hexv(b, "shared"))


def check_x25519_low_order(b):
    try:
        x25519(bytes(range(1, 33)), hexv(b, "u"))
    except ValueError:  # cryptography refuses the all-zero shared secret
        return True
    return False


def check_ed25519(b):
    key = Ed25519PrivateKey.from_private_bytes(hexv(b, "seed"))
    pk = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    msg, sig = hexv(b, "message"), hexv(b, "signature")
    try:
        Ed25519PublicKey.from_public_bytes(hexv(b, "public")).verify(sig, msg)
    except InvalidSignature:
        return False
    return pk == hexv(b, "public") and key.sign(msg) == sig


def check_xchacha20poly1305(b):
    nonce = hexv(b, "nonce")
    subkey = hchacha20(hexv(b, "key"), nonce[:16])
    sealed = ChaCha20Poly1305(subkey).encrypt(b"\0" * 4 + nonce[16:], hexv(b, "plaintext"),
                                              hexv(b, "ad"))
    return sealed == hexv(b, "ciphertext") + hexv(b, "tag")


def check_aes256gcm(b):
    sealed = AESGCM(hexv(b, "key")).encrypt(hexv(b, "nonce"), hexv(b, "plaintext"),
                                            hexv(b, "ad"))
    return sealed == hexv(b, "ciphertext") + hexv(b, "tag")


def check_hkdf_sha256(b):
    salt = hexv(b, "salt") or bytes(32)
    prk = hmac.new(salt, hexv(b, "ikm"), hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < intv(b, "length"):
        t = hmac.new(prk, t + hexv(b, "info") + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return prk == hexv(b, "prk") and okm[:intv(b, "length")] == hexv(b, "okm")


CHECKS = {
    "chacha20.txt": check_chacha20,
    "aes128ctr.txt": check_aes128ctr,
    "x25519.txt": check_x25519,
    "x25519_iterated.txt": check_x25519_iterated,
    "x25519_dh.txt": check_x25519_dh,
    "x25519_low_order.txt": check_x25519_low_order,
    "ed25519.txt": check_ed25519,
    "xchacha20poly1305.txt": check_xchacha20poly1305,
    "aes256gcm.txt": check_aes256gcm,
    "hkdf_sha256.txt": check_hkdf_sha256,
}


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    failed = 0
    for name, check in CHECKS.items():
        blocks = load(os.path.join(directory, name))
        results = [check(b) for b in blocks]
        bad = [i for i, r in enumerate(results) if r is False]
        skipped = sum(r is None for r in results)
        print("%-24s %d blocks, %d bad %s%s" % (name, len(blocks), len(bad), bad,
                                                ", %d skipped" % skipped if skipped else ""))
        failed += len(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
