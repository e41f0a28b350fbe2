#!/usr/bin/env python3
"""Seeds for fuzz_transport, fuzz_http, fuzz_keys and fuzz_result.

    tests/fuzz/make_seeds_wire.py [--demo DIR]

Writes tests/fuzz/seeds/NAME/. The wire seeds (transport, http, hex, key
files, names) are written from the literals below. The PEM and result
seeds need a demo federation: DIR is `tally demo --serve --dir DIR` after
some queries were answered with `--format json` into DIR/results/NAME.json
(the seeds committed were made from a 3-site demo, seed 7, its CA and
planner certificate, and the answers to the demo's queries). fuzz_ledger
writes its own seeds: FUZZ_LEDGER_SEEDS=DIR build/fuzz/fuzz/fuzz_ledger.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def put(name, fname, data):
    d = os.path.join(HERE, "seeds", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def frame(b):
    return struct.pack(">I", len(b)) + b


def transport():
    # first byte odd: the harness authenticates as node 1 first
    put("fuzz_transport", "auth_two_frames", b"\x01" + frame(b"hello world") + frame(bytes(range(200))))
    put("fuzz_transport", "auth_cut_frame", b"\x01" + frame(b"abc") + struct.pack(">I", 100) + b"short")
    put("fuzz_transport", "auth_zero_length", b"\x01" + frame(b"x") + struct.pack(">I", 0) + frame(b"never"))
    put("fuzz_transport", "auth_oversized", b"\x01" + struct.pack(">I", 0xFFFFFFFF) + b"junk")
    put("fuzz_transport", "unauth_frames", b"\x00" + frame(b"not a hello"))
    put("fuzz_transport", "unauth_fake_hello", b"\x00" + frame(struct.pack(">I", 1) + bytes(64)) + frame(b"after"))
    put("fuzz_transport", "unauth_empty", b"\x00")


def http():
    reqs = {
        "get_status": b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "post_query": b"POST /v1/queries HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b'Content-Length: 55\r\n\r\n{"dataset":"patients","measure":{"op":"count"},"x":11}',
        "put": b"PUT /v1/queries HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "long_path": b"GET /v1/" + b"a" * 300 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "chunked": b"POST /v1/queries HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "two_requests": b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/catalogue HTTP/1.1\r\nHost: x\r\n\r\n",
        "http10": b"GET /v1/releases HTTP/1.0\r\n\r\n",
    }
    for k, v in reqs.items():
        put("fuzz_http", "req_" + k, b"\x00" + v)
    resps = {
        "ok": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        "error": b"HTTP/1.1 409 Conflict\r\nContent-Length: 40\r\nConnection: close\r\n\r\n"
        b'{"error":{"code":"refused","message":""}}',
        "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "no_length": b'HTTP/1.1 200 OK\r\n\r\n{"a":1}',
        "short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}",
    }
    for k, v in resps.items():
        put("fuzz_http", "resp_" + k, b"\x01" + v)


def keys(demo):
    hx = ("5a" * 32).encode()
    put("fuzz_keys", "unhex_seed", bytes([0, 32]) + hx)
    put("fuzz_keys", "unhex_upper", bytes([0, 4]) + b"DEADbeef")
    put("fuzz_keys", "keyfile_ok", bytes([1, 0]) + hx + b"\n")
    put("fuzz_keys", "keyfile_others_read", bytes([1, 1]) + hx + b"\n")
    names = [b"node-1", b"localhost", b"127.0.0.1", b"::1", b"coordinator", b"tally federation CA",
             b"a.b-c.example", b"planner"]
    for i, n in enumerate(names):
        put("fuzz_keys", "name_%d" % i, b"\x03" + n)
    if demo is None:
        return
    pki = os.path.join(demo, "pki")

    def rd(n):
        with open(os.path.join(pki, n), "rb") as f:
            return f.read()

    put("fuzz_keys", "pem_ca", b"\x02" + rd("planner-ca.crt") + b"\0" + rd("planner-ca.key"))
    put("fuzz_keys", "pem_leaf", b"\x02" + rd("planner.crt") + b"\0" + rd("planner.key"))
    put("fuzz_keys", "pem_mismatch", b"\x02" + rd("planner-ca.crt") + b"\0" + rd("planner.key"))


def result(demo):
    put("fuzz_result", "answer_error_1", b"\x00\x01" + b'{"error":{"code":"invalid_query","field":"measure.op",'
        b'"message":"unknown operation \\"median\\""}}')
    put("fuzz_result", "answer_error_2", b"\x00\x02" + b'{"error":{"code":"refused","message":"refused by node 1"}}')
    put("fuzz_result", "answer_error_3", b"\x00\x03" + b'{"error":{"code":"busy","message":"8 queries are waiting"}}')
    put("fuzz_result", "answer_error_4", b"\x00\x04" + b'{"error":{"code":"too_few","message":"2 of 3 answered"}}')
    if demo is None:
        return
    generic = (b'{"dataset":"patients","measure":{"op":"count"},"group_by":["sex"],'
               b'"privacy":{"mechanism":"laplace","epsilon":0.5}}')
    results = os.path.join(demo, "results")
    for fname in sorted(os.listdir(results)):
        if not fname.endswith(".json"):
            continue
        name = fname[:-5]
        with open(os.path.join(results, fname), "rb") as f:
            body = f.read().strip()
        # byte 1: status 200 (index 0) and format table (0) or csv (5)
        put("fuzz_result", "answer_%s_table" % name, b"\x00\x00" + body)
        put("fuzz_result", "answer_%s_csv" % name, b"\x00\x05" + body)
        spec_path = os.path.join(demo, "queries", fname)
        spec = open(spec_path, "rb").read() if os.path.exists(spec_path) else generic
        put("fuzz_result", "explain_" + name, bytes([1, 7, 0x6A, 0x10, 1, 2, 3]) + body + b"\0" + spec)


def main():
    demo = None
    if len(sys.argv) == 3 and sys.argv[1] == "--demo":
        demo = sys.argv[2]
    elif len(sys.argv) != 1:
        sys.exit(__doc__)
    transport()
    http()
    keys(demo)
    result(demo)


if __name__ == "__main__":
    main()
