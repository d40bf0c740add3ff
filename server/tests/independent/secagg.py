#!/usr/bin/env python3
"""An independent unmasking of one secure-aggregation round (Cipherfold's app::fl), written
from the construction alone with the `cryptography` package's X25519, HKDF, ChaCha20 and
AES-GCM, Python integers for Shamir over the scalar field of curve25519, and hashlib.

  secagg.py ROUND.json

ROUND.json holds what the server has (the advertised keys, the sealed share envelopes, the
survivors' masked inputs) plus, playing the survivors, the share-key secrets of those who
reveal shares. Prints {"sum": [...]} (the unmasked sum of the survivors' inputs, as decimal
strings) and exits 0; any check that fails raises.
"""
import hashlib
import json
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

L = 2**252 + 27742317777372353535851937790883648493
MOD = 2**64


def context(federation, round_):
    fid = federation.encode()
    return b"cipherfold-secagg-v1" + struct.pack(">H", len(fid)) + fid + struct.pack(">I", round_)


def agree(secret32, peer_public32, ctx, info):
    shared = X25519PrivateKey.from_private_bytes(secret32).exchange(X25519PublicKey.from_public_bytes(peer_public32))
    assert shared != bytes(32), "small-order agreement"
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ctx, info=info).derive(shared)


def expand(seed, n):
    # RFC 8439 ChaCha20 with a zero 96-bit nonce and block counter 0; `cryptography` takes the
    # 16-byte (counter || nonce) block as its nonce.
    ks = Cipher(algorithms.ChaCha20(seed, bytes(16)), mode=None).encryptor().update(bytes(8 * n))
    return [struct.unpack_from("<Q", ks, 8 * i)[0] for i in range(n)]


def public_of(secret32):
    return X25519PrivateKey.from_private_bytes(secret32).public_key().public_bytes_raw()


def lagrange_at_zero(points):
    secret = 0
    for i, (xi, yi) in enumerate(points):
        num, den = 1, 1
        for j, (xj, _) in enumerate(points):
            if i != j:
                num = num * xj % L
                den = den * (xj - xi) % L
        secret = (secret + yi * num * pow(den, -1, L)) % L
    return secret


def main(path):
    r = json.load(open(path))
    ctx = context(r["federation"], r["round"])
    t = r["threshold"]
    n = r["length"]
    adv = {p["id"]: {k: bytes.fromhex(p[k]) for k in ("share_public", "mask_public", "self_commitment")} for p in r["advertised"]}
    masked = {int(k): [int(x) for x in v] for k, v in r["masked"].items()}
    survivors = sorted(masked)
    dropped = sorted(set(adv) - set(masked))

    # The survivors open the envelopes addressed to them (docs: 69-byte plaintext, AES-256-GCM,
    # zero nonce, AAD = context || from || to) and reveal the shares the server asks for.
    mask_shares, self_shares = {}, {}
    for e in r["envelopes"]:
        frm, to = e["from"], e["to"]
        if to not in survivors:
            continue
        key = agree(bytes.fromhex(r["share_secrets"][str(to)]), adv[frm]["share_public"], ctx, b"share key")
        aad = ctx + struct.pack(">HH", frm, to)
        plain = AESGCM(key).decrypt(bytes(12), bytes.fromhex(e["sealed"]), aad)
        assert len(plain) == 69 and plain[0] == 1 and struct.unpack(">HH", plain[1:5]) == (frm, to)
        m_share = int.from_bytes(plain[5:37], "little")
        b_share = int.from_bytes(plain[37:69], "little")
        assert m_share < L and b_share < L, "non-canonical share"
        if frm in dropped:
            mask_shares.setdefault(frm, []).append((to, m_share))
        else:
            self_shares.setdefault(frm, []).append((to, b_share))

    total = [0] * n
    for u in survivors:
        total = [(a + b) % MOD for a, b in zip(total, masked[u])]
    for u in survivors:
        pts = self_shares[u]
        assert len(pts) >= t, f"too few shares of b_{u}"
        b = lagrange_at_zero(pts[:t]).to_bytes(32, "little")
        assert hashlib.sha256(b"cipherfold self-mask commitment" + b).digest() == adv[u]["self_commitment"], f"b_{u} does not match"
        total = [(a - m) % MOD for a, m in zip(total, expand(b, n))]
    for v in dropped:
        pts = mask_shares[v]
        assert len(pts) >= t, f"too few shares of m_{v}"
        m = lagrange_at_zero(pts[:t]).to_bytes(32, "little")
        assert public_of(m) == adv[v]["mask_public"], f"m_{v} does not match its public key"
        for u in survivors:
            mask = expand(agree(m, adv[u]["mask_public"], ctx, b"pair mask"), n)
            sign = -1 if u < v else 1  # u added the mask when u < v: take it off
            total = [(a + sign * x) % MOD for a, x in zip(total, mask)]
    print(json.dumps({"sum": [str(x) for x in total], "survivors": survivors, "dropped": dropped}))


if __name__ == "__main__":
    main(sys.argv[1])
