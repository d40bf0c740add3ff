#!/usr/bin/env python3
"""An independent reader and writer of Cipherfold dataset envelopes, written from
docs/envelope.md only: HPKE (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
AES-256-GCM) built from the `cryptography` package's X25519, HKDF-Expand and AESGCM
primitives (and the standard library's HMAC for HKDF-Extract), and the STREAM chunking.

  envelope.py open --secret HEX --wrapped FILE.json --id HEX32 --envelope FILE --out FILE
  envelope.py seal --public B64 --id HEX32 --chunk-size N --input FILE --envelope FILE --wrapped FILE.json
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

MAGIC = b"CFENVLP\x00"
HEADER_LEN = 40
TAG_LEN = 16
INFO = b"cipherfold/dataset-key/v1"

KEM_SUITE = b"KEM" + struct.pack(">H", 0x0020)
HPKE_SUITE = b"HPKE" + struct.pack(">HHH", 0x0020, 0x0001, 0x0002)


def labeled_extract(suite, salt, label, ikm):
    return hmac.new(salt, b"HPKE-v1" + suite + label + ikm, hashlib.sha256).digest()


def labeled_expand(suite, prk, label, info, length):
    labeled_info = struct.pack(">H", length) + b"HPKE-v1" + suite + label + info
    return HKDFExpand(algorithm=hashes.SHA256(), length=length, info=labeled_info).derive(prk)


def raw(public_key):
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def shared_secret(dh, enc, pk_r):
    eae_prk = labeled_extract(KEM_SUITE, b"", b"eae_prk", dh)
    return labeled_expand(KEM_SUITE, eae_prk, b"shared_secret", enc + pk_r, 32)


def key_schedule(ss, info):
    psk_id_hash = labeled_extract(HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(HPKE_SUITE, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = labeled_extract(HPKE_SUITE, ss, b"secret", b"")
    key = labeled_expand(HPKE_SUITE, secret, b"key", context, 32)
    nonce = labeled_expand(HPKE_SUITE, secret, b"base_nonce", context, 12)
    return key, nonce


def hpke_seal(pk_r_bytes, info, aad, plaintext):
    sk_e = X25519PrivateKey.generate()
    enc = raw(sk_e.public_key())
    dh = sk_e.exchange(X25519PublicKey.from_public_bytes(pk_r_bytes))
    key, nonce = key_schedule(shared_secret(dh, enc, pk_r_bytes), info)
    return enc, AESGCM(key).encrypt(nonce, plaintext, aad)


def hpke_open(sk_r_bytes, enc, info, aad, ciphertext):
    sk_r = X25519PrivateKey.from_private_bytes(sk_r_bytes)
    dh = sk_r.exchange(X25519PublicKey.from_public_bytes(enc))
    key, nonce = key_schedule(shared_secret(dh, enc, raw(sk_r.public_key())), info)
    return AESGCM(key).decrypt(nonce, ciphertext, aad)


def key_id(public):
    return hashlib.sha256(public).hexdigest()[:16]


def parse_header(h, dataset_id):
    if len(h) < HEADER_LEN or h[:8] != MAGIC:
        raise ValueError("not an envelope")
    version, alg, reserved, chunk_size = h[8], h[9], h[10:12], struct.unpack(">I", h[12:16])[0]
    if version != 1 or alg != 1 or reserved != b"\x00\x00" or h[39] != 0:
        raise ValueError("unsupported header")
    if h[16:32] != dataset_id:
        raise ValueError("envelope of another dataset")
    return chunk_size, h[32:39]


def open_envelope(data_key, dataset_id, envelope):
    header = envelope[:HEADER_LEN]
    chunk_size, prefix = parse_header(header, dataset_id)
    aes = AESGCM(data_key)
    body = envelope[HEADER_LEN:]
    full = chunk_size + TAG_LEN
    count = max(1, -(-len(body) // full))
    out = bytearray()
    for i in range(count):
        chunk = body[i * full:(i + 1) * full]
        last = i == count - 1
        nonce = prefix + struct.pack(">I", i) + (b"\x01" if last else b"\x00")
        out += aes.decrypt(nonce, chunk, header)
    return bytes(out)


def seal_envelope(data_key, dataset_id, chunk_size, plaintext):
    prefix = os.urandom(7)
    header = MAGIC + bytes([1, 1, 0, 0]) + struct.pack(">I", chunk_size) + dataset_id + prefix + b"\x00"
    aes = AESGCM(data_key)
    count = max(1, -(-len(plaintext) // chunk_size))
    out = bytearray(header)
    for i in range(count):
        last = i == count - 1
        nonce = prefix + struct.pack(">I", i) + (b"\x01" if last else b"\x00")
        out += aes.encrypt(nonce, plaintext[i * chunk_size:(i + 1) * chunk_size], header)
    return bytes(out)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("open")
    o.add_argument("--secret", required=True)
    o.add_argument("--wrapped", required=True)
    o.add_argument("--id", required=True)
    o.add_argument("--envelope", required=True)
    o.add_argument("--out", required=True)
    s = sub.add_parser("seal")
    s.add_argument("--public", required=True)
    s.add_argument("--id", required=True)
    s.add_argument("--chunk-size", type=int, default=1 << 20)
    s.add_argument("--input", required=True)
    s.add_argument("--envelope", required=True)
    s.add_argument("--wrapped", required=True)
    a = p.parse_args()
    dataset_id = bytes.fromhex(a.id)
    if a.cmd == "open":
        wrapped = json.load(open(a.wrapped))
        data_key = hpke_open(bytes.fromhex(a.secret), base64.b64decode(wrapped["enc"]), INFO, dataset_id,
                             base64.b64decode(wrapped["ciphertext"]))
        plain = open_envelope(data_key, dataset_id, open(a.envelope, "rb").read())
        open(a.out, "wb").write(plain)
        print(f"opened {len(plain)} bytes")
    else:
        public = base64.b64decode(a.public)
        data_key = os.urandom(32)
        envelope = seal_envelope(data_key, dataset_id, a.chunk_size, open(a.input, "rb").read())
        enc, ct = hpke_seal(public, INFO, dataset_id, data_key)
        open(a.envelope, "wb").write(envelope)
        wrapped = {"recipient": "trainer", "key_id": key_id(public),
                   "enc": base64.b64encode(enc).decode(), "ciphertext": base64.b64encode(ct).decode()}
        json.dump(wrapped, open(a.wrapped, "w"))
        print(f"sealed {len(envelope)} bytes")


if __name__ == "__main__":
    sys.exit(main())
