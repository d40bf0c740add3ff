#!/usr/bin/env python3
"""An independent participant of a Cipherfold federation, written from docs/federated.md and
docs/api.md alone: it logs in, joins, and takes part in every round of a linear-regression or
logistic-regression federation, private or not, over HTTP (the Python standard library's
urllib), with the `cryptography` package's X25519, HKDF, ChaCha20 and AES-GCM, Python integers
for Shamir over curve25519's scalar field, and plain floats for the statistics, the normal
equations, local gradient descent and the evaluation.

  participant.py SERVER FEDERATION USERNAME PASSWORD DATA.csv

Prints {"model_id": ..., "rounds": N, "privacy": ledger or null} when the federation finishes
and exits 0; anything that breaks the protocol raises.
"""
import base64
import csv
import hashlib
import json
import math
import os
import random
import struct
import sys
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The construction's primitives, shared with the independent unmasking (same directory).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secagg import L, MOD, agree, context, expand, public_of  # noqa: E402
WEIGHTS = (24, 32768.0)
MOMENTS = (10, 536870912.0)


# --- HTTP -------------------------------------------------------------------------------------

class Api:
    def __init__(self, server):
        self.server = server.rstrip("/")
        self.token = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        if self.token:
            req.add_header("authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req) as res:
                return json.loads(res.read() or b"null")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read().decode()}")


def b64(data):
    return base64.b64encode(data).decode()


def unb64(text, length=None):
    data = base64.b64decode(text, validate=True)
    assert length is None or len(data) == length, f"{len(data)} bytes, not {length}"
    return data


# --- The construction -------------------------------------------------------------------------

def random_scalar():
    return int.from_bytes(os.urandom(64), "little") % L


def scalar_bytes(s):
    return s.to_bytes(32, "little")


def split(secret, t, holders):
    coefs = [secret] + [random_scalar() for _ in range(t - 1)]
    return {x: sum(c * pow(x, k, L) for k, c in enumerate(coefs)) % L for x in holders}


def encode(values, rows, fmt):
    scale_bits, clip = fmt
    out = []
    for w in values:
        assert math.isfinite(w)
        v = max(-clip, min(clip, w)) * 2**scale_bits
        q = int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)  # half away from zero
        out.append(rows * q % MOD)
    return out + [rows]


# --- What a participant computes (linear regression) -------------------------------------------

def moments(task, rows):
    n = len(rows)
    out = []
    for f in task["features"]:
        assert f["kind"] == "numeric", "this client handles numeric features"
        xs = [r[f["name"]] for r in rows if r[f["name"]] is not None]
        out += [sum(xs) / n, sum(x * x for x in xs) / n, len(xs) / n]
    return out


def standardise(task, means, rows):
    codings = []
    for i, f in enumerate(task["features"]):
        s, s2, k = means[3 * i: 3 * i + 3]
        mean = s / k if k > 0 else 0.0
        var = max(0.0, s2 / k - mean * mean) if k > 0 else 0.0
        std = math.sqrt(var) or 1.0
        codings.append((f["name"], mean, std))
    return [[1.0] + [0.0 if r[c] is None else (r[c] - m) / sd for c, m, sd in codings] for r in rows]


def normal_equations(a, y):
    n, d = len(a), len(a[0])
    out = [sum(row[i] * row[j] for row in a) / n for i in range(d) for j in range(i, d)]
    return out + [sum(row[i] * yi for row, yi in zip(a, y)) / n for i in range(d)]


def solve(params, d):
    m = [[0.0] * d for _ in range(d)]
    at = 0
    for i in range(d):
        for j in range(i, d):
            m[i][j] = m[j][i] = params[at]
            at += 1
    b = params[at: at + d]
    for c in range(d):  # Gaussian elimination with partial pivoting
        p = max(range(c, d), key=lambda r: abs(m[r][c]))
        m[c], m[p], b[c], b[p] = m[p], m[c], b[p], b[c]
        for r in range(c + 1, d):
            f = m[r][c] / m[c][c]
            m[r] = [x - f * yv for x, yv in zip(m[r], m[c])]
            b[r] -= f * b[c]
    w = [0.0] * d
    for c in reversed(range(d)):
        w[c] = (b[c] - sum(m[c][k] * w[k] for k in range(c + 1, d))) / m[c][c]
    return w


def scores(w, row, k):
    """Softmax of the logistic model's scores on one standardised row (1 first)."""
    z = [w[c] + sum(w[k + j * k + c] * x for j, x in enumerate(row[1:])) for c in range(k)]
    top = max(z)
    e = [math.exp(v - top) for v in z]
    return [v / sum(e) for v in e]


def predict(w, row, k):
    p = scores(w, row, k)
    return p.index(max(p))


def local_training(model, a, y, k, start):
    """`epochs` passes of mini-batch gradient descent from `start` (the docs' logistic step)."""
    w, order, n = list(start), list(range(len(a))), len(a)
    for _ in range(model["epochs"]):
        random.shuffle(order)
        for at in range(0, n, model["batch_size"]):
            batch = order[at: at + model["batch_size"]]
            g = [0.0] * len(w)
            for i in batch:
                p = scores(w, a[i], k)
                for c in range(k):
                    err = (p[c] - (1.0 if y[i] == c else 0.0)) / len(batch)
                    g[c] += err
                    for j, x in enumerate(a[i][1:]):
                        g[k + j * k + c] += err * x
            for idx in range(len(w)):
                pull = model.get("mu", 0.0) * (w[idx] - start[idx])
                penalty = model["alpha"] / n * w[idx] if idx >= k else 0.0
                w[idx] -= model["learning_rate"] * (g[idx] + penalty + pull)
    return w


def confusion(w, a, y, k):
    m = [0.0] * (k * k)
    for row, t in zip(a, y):
        m[t * k + predict(w, row, k)] += 1.0 / len(a)
    return m


def private_update(privacy, local, start, threshold):
    """Δ = w − w_g, clipped to C, plus this participant's share of the noise when distributed."""
    d = [lw - g for lw, g in zip(local, start)]
    norm = math.sqrt(sum(v * v for v in d))
    if norm > privacy["clip_norm"]:
        d = [v * privacy["clip_norm"] / norm for v in d]
    if privacy["noise"] == "distributed":
        std = privacy["noise_multiplier"] * privacy["clip_norm"] / math.sqrt(threshold)
        rng = random.SystemRandom()
        d = [v + rng.gauss(0.0, std) for v in d]
    return d


def contribution(task, phase, view, rows, threshold):
    """The values, their format and the row count they are encoded with."""
    y = [r[task["target"]] for r in rows]
    if phase["kind"] == "statistics":
        return moments(task, rows), MOMENTS, len(rows)
    a = standardise(task, view["means"], rows)
    if task["model"]["kind"] == "logistic":
        k = len(task["labels"])
        y = [task["labels"].index(t) for t in y]
        w = list(view["params"]) if view["params"] is not None else [0.0] * (len(a[0]) * k)
        if phase["kind"] == "evaluate":
            return confusion(w, a, y, k), WEIGHTS, len(rows)
        local = local_training(task["model"], a, y, k, w)
        if task.get("privacy"):
            return private_update(task["privacy"], local, w, threshold), WEIGHTS, 1
        return local + confusion(w, a, y, k), WEIGHTS, len(rows)
    if phase["kind"] == "train":
        return normal_equations(a, y), WEIGHTS, len(rows)
    w = solve(list(view["params"]), len(a[0]))
    pred = [sum(wi * ai for wi, ai in zip(w, row)) for row in a]
    n = len(rows)
    return [sum((t - p) ** 2 for t, p in zip(y, pred)) / n, sum(abs(t - p) for t, p in zip(y, pred)) / n,
            sum(y) / n, sum(t * t for t in y) / n], MOMENTS, len(rows)


# --- The participant ----------------------------------------------------------------------------

def main(server, federation, username, password, data):
    api = Api(server)
    api.token = api.call("POST", "/api/auth/login", {"username": username, "password": password})["access_token"]
    fed = api.call("GET", f"/api/federations/{federation}")
    task = fed["task"]
    assert task["model"]["kind"] in ("linear", "logistic"), "this client trains linear or logistic regression"
    classes = task["model"]["kind"] == "logistic"

    def cell(k, v):
        if not v.strip():
            return None
        return v.strip() if classes and k == task["target"] else float(v)

    with open(data, newline="") as f:
        parsed = [{k: cell(k, v) for k, v in row.items() if k in
                   [x["name"] for x in task["features"]] + [task["target"]]} for row in csv.DictReader(f)]
    rows = [r for r in parsed if r[task["target"]] is not None]
    if not fed["joined"]:
        api.call("POST", f"/api/federations/{federation}/join", {})
    state = {}  # this round's secrets and held shares
    while True:
        view = api.call("GET", f"/api/federations/{federation}/round")
        if view["status"] == "finished":
            print(json.dumps({"model_id": view["model_id"], "rounds": len(view["results"]), "privacy": view.get("privacy")}))
            return
        assert view["status"] != "failed", view["failure"]
        r = view["round"]
        me = view["you"]
        if r is None or r["sent"]:
            time.sleep(0.05)
            continue
        ctx = context(federation, r["round"])
        path = f"/api/federations/{federation}/rounds/{r['round']}/{r['stage']}"
        if r["stage"] == "keys":
            if r.get("sampled") is not None and me not in r["sampled"]:
                time.sleep(0.05)  # not sampled for this private round: wait for the next
                continue
            c, m, b = os.urandom(32), random_scalar(), random_scalar()
            state = {"round": r["round"], "c": c, "m": m, "b": b, "held": {}}
            commitment = hashlib.sha256(b"cipherfold self-mask commitment" + scalar_bytes(b)).digest()
            api.call("POST", path, {"share_public": b64(public_of(c)), "mask_public": b64(public_of(scalar_bytes(m))),
                                    "commitment": b64(commitment)})
        elif state.get("round") != r["round"]:
            time.sleep(0.05)  # not in this round (joined late): sit it out
        elif r["stage"] == "shares":
            roster = {e["number"]: {k: unb64(e[k], 32) for k in ("share_public", "mask_public", "commitment")} for e in r["roster"]}
            assert roster[me]["share_public"] == public_of(state["c"]) and len(roster) >= r["threshold"]
            state["roster"] = roster
            ms, bs = split(state["m"], r["threshold"], list(roster)), split(state["b"], r["threshold"], list(roster))
            state["held"][me] = (ms[me], bs[me])
            envelopes = []
            for v in roster:
                if v == me:
                    continue
                plain = bytes([1]) + struct.pack(">HH", me, v) + scalar_bytes(ms[v]) + scalar_bytes(bs[v])
                key = agree(state["c"], roster[v]["share_public"], ctx, b"share key")
                sealed = AESGCM(key).encrypt(bytes(12), plain, ctx + struct.pack(">HH", me, v))
                envelopes.append({"peer": v, "sealed": b64(sealed)})
            api.call("POST", path, {"envelopes": envelopes})
        elif r["stage"] == "input":
            roster = state["roster"]
            with_ = {me}
            for e in r["envelopes"]:
                frm = e["peer"]
                assert frm in roster and frm not in with_
                key = agree(state["c"], roster[frm]["share_public"], ctx, b"share key")
                plain = AESGCM(key).decrypt(bytes(12), unb64(e["sealed"], 85), ctx + struct.pack(">HH", frm, me))
                assert plain[:5] == bytes([1]) + struct.pack(">HH", frm, me)
                ym, yb = int.from_bytes(plain[5:37], "little"), int.from_bytes(plain[37:69], "little")
                assert ym < L and yb < L
                state["held"][frm] = (ym, yb)
                with_.add(frm)
            assert len(with_) >= r["threshold"]
            values, fmt, count = contribution(task, r["phase"], view, rows, r["threshold"])
            x = encode(values, count, fmt)
            assert len(x) == r["vector_len"]
            y = [(xi + si) % MOD for xi, si in zip(x, expand(scalar_bytes(state["b"]), len(x)))]
            for v in with_ - {me}:
                mask = expand(agree(scalar_bytes(state["m"]), roster[v]["mask_public"], ctx, b"pair mask"), len(x))
                sign = 1 if v > me else -1
                y = [(yi + sign * mi) % MOD for yi, mi in zip(y, mask)]
            state["with"] = with_
            api.call("POST", path, {"masked": b64(b"".join(struct.pack("<Q", w) for w in y))})
        elif r["stage"] == "reveal":
            survivors, dropped = set(r["survivors"]), set(r["dropped"])
            if me not in survivors:
                time.sleep(0.05)
                continue
            assert survivors.isdisjoint(dropped) and survivors | dropped == state["with"] and len(survivors) >= r["threshold"]
            out = b""
            for u in sorted(survivors):
                out += bytes([2]) + struct.pack(">HH", u, me) + scalar_bytes(state["held"][u][1])
            for v in sorted(dropped):
                out += bytes([1]) + struct.pack(">HH", v, me) + scalar_bytes(state["held"][v][0])
            api.call("POST", path, {"shares": b64(out)})


if __name__ == "__main__":
    main(*sys.argv[1:6])
