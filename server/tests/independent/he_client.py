"""An encrypted-prediction client written from docs/he.md alone (Python, numpy and
`cryptography`; no tfhe): its own key, quantisation, seeded and full ciphertexts, request and
answer formats, and decryption.

usage:
  he_client.py predict URL TOKEN MODEL_ID ROWS.csv
      fetches the offer, encrypts every row of ROWS.csv under a new key (once as seeded rows,
      once as full ciphertexts), posts both, decrypts; prints JSON {quantised, seeded, full,
      upload_seeded, upload_full, answer_bytes}: the quantised rows and each form's scores.
  he_client.py decrypt KEY_FILE REQUEST.bin [ANSWER.bin]
      decrypts a request's ciphertexts (and an answer's) made by someone else under the key in
      KEY_FILE (docs/he.md's 256-byte form); prints JSON {inputs, scores}.
"""
import json
import math
import os
import secrets
import struct
import sys
import urllib.request

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

sys.path.insert(0, os.path.dirname(__file__))
from model_check import features  # noqa: E402  (docs/model-format.md's encoding)

N = 2048
WORDS = N + 1
DELTA = 1 << 32
NOISE_BOUND_LOG2 = 17
MASK64 = (1 << 64) - 1


def key_from_bytes(data):
    assert len(data) == N // 8, f"a key is {N // 8} bytes, not {len(data)}"
    return np.array([(data[i // 8] >> (i % 8)) & 1 for i in range(N)], dtype=np.uint64)


def new_key():
    return key_from_bytes(secrets.token_bytes(N // 8))


def masks(seed, count):
    """docs/he.md "Seeded rows": AES-128-CTR under the seed, little-endian counter from 0."""
    enc = Cipher(algorithms.AES(seed), modes.ECB()).encryptor()
    blocks = count * N * 8 // 16
    counters = b"".join(i.to_bytes(16, "little") for i in range(blocks))
    return np.frombuffer(enc.update(counters), dtype="<u8").reshape(count, N)


def noise():
    """TUniform with bound 2^17: [-2^17, 2^17], the two ends half as likely."""
    u = secrets.randbits(NOISE_BOUND_LOG2 + 2)
    return (u >> 1) + (u & 1) - (1 << NOISE_BOUND_LOG2)


def dot(a, s):
    return int((a * s).sum(dtype=np.uint64))  # numpy's uint64 arithmetic wraps mod 2^64


def body(a, s, m):
    return (dot(a, s) + (m % (1 << 32)) * DELTA + noise()) & MASK64


def decrypt(ct, s):
    phase = (int(ct[N]) - dot(ct[:N], s)) & MASK64
    m = ((phase + (1 << 31)) & MASK64) >> 32
    return m - (1 << 32) if m >= 1 << 31 else m


def quantise(x, spec):
    r = spec["input_range"]
    scale = ((1 << (spec["input_bits"] - 1)) - 1) / r
    v = max(-r, min(r, x)) * scale
    return int(math.copysign(math.floor(abs(v) + 0.5), v))  # half away from zero


def request(offer, form, rows):
    spec = offer["spec"]
    head = b"CFHE" + bytes([1, offer["parameter_set"], form, spec["input_bits"], spec["weight_bits"]]) + bytes(7)
    head += bytes.fromhex(offer["model_id"]) + struct.pack("<dII", spec["input_range"], len(rows), offer["features"])
    return head + b"".join(rows)


def seeded_row(s, xq):
    seed = secrets.token_bytes(16)
    a = masks(seed, len(xq))
    return seed + struct.pack(f"<{len(xq)}Q", *(body(a[j], s, x) for j, x in enumerate(xq)))


def full_row(s, xq):
    out = b""
    for x in xq:
        a = np.frombuffer(secrets.token_bytes(N * 8), dtype="<u8")
        out += a.tobytes() + struct.pack("<Q", body(a, s, x))
    return out


def parse_request(data):
    assert data[:4] == b"CFHE" and data[4] == 1 and data[5] == 1, "not a version 1 request"
    form, rows, f = data[6], *struct.unpack_from("<II", data, 40)
    out, at = [], 48
    for _ in range(rows):
        if form == 1:
            seed = data[at:at + 16]
            bodies = np.frombuffer(data[at + 16:at + 16 + 8 * f], dtype="<u8")
            cts = [np.append(a, b) for a, b in zip(masks(seed, f), bodies)]
            at += 16 + 8 * f
        else:
            cts = [np.frombuffer(data[at + j * WORDS * 8:at + (j + 1) * WORDS * 8], dtype="<u8") for j in range(f)]
            at += f * WORDS * 8
        out.append(cts)
    assert at == len(data), f"{len(data) - at} bytes after the rows"
    return out


def parse_answer(data):
    assert data[:4] == b"CFHR" and data[4] == 1 and data[5] == 1, "not a version 1 answer"
    rows, k = struct.unpack_from("<II", data, 8)
    assert len(data) == 16 + rows * k * WORDS * 8, "the answer's length"
    cts = np.frombuffer(data[16:], dtype="<u8").reshape(rows, k, WORDS)
    return cts


def http(url, token, data=None):
    req = urllib.request.Request(url, data=data, headers={"authorization": f"Bearer {token}"})
    if data is not None:
        req.add_header("content-type", "application/octet-stream")
    with urllib.request.urlopen(req) as r:
        return r.read()


def predict(url, token, model, rows_csv):
    import csv

    offer = json.loads(http(f"{url}/api/models/{model}/he", token))
    assert offer["lwe_dimension"] == N and offer["parameter_set"] == 1 and offer["noise_bound_log2"] == NOISE_BOUND_LOG2
    rows = list(csv.DictReader(open(rows_csv, newline="")))
    quantised = [[quantise(x, offer["spec"]) for x in features(offer["preprocessor"]["codings"], r)] for r in rows]
    assert all(len(q) == offer["features"] for q in quantised)
    s = new_key()
    out = {"quantised": quantised}
    for name, form, make in (("seeded", 1, seeded_row), ("full", 2, full_row)):
        body_ = request(offer, form, [make(s, q) for q in quantised])
        answer = http(f"{url}/api/models/{model}/predict-encrypted", token, body_)
        out[name] = [[decrypt(ct, s) for ct in row] for row in parse_answer(answer)]
        out[f"upload_{name}"] = len(body_)
        out["answer_bytes"] = len(answer)
    print(json.dumps(out))


def main():
    if sys.argv[1] == "predict":
        predict(*sys.argv[2:6])
    elif sys.argv[1] == "decrypt":
        s = key_from_bytes(open(sys.argv[2], "rb").read())
        out = {"inputs": [[decrypt(ct, s) for ct in row] for row in parse_request(open(sys.argv[3], "rb").read())]}
        if len(sys.argv) > 4:
            out["scores"] = [[decrypt(ct, s) for ct in row] for row in parse_answer(open(sys.argv[4], "rb").read())]
        print(json.dumps(out))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
