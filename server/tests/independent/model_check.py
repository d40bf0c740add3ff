"""Reads a Cipherfold model artifact (docs/model-format.md, linear and logistic models) with
nothing but the standard library, predicts the rows of a CSV, and compares the server's
predictions to 1e-9.

usage: model_check.py ARTIFACT.json ROWS.csv SERVER_PREDICTIONS.json
"""
import csv
import json
import math
import sys

MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}


def features(codings, row):
    out = []
    for c in codings:
        raw = row.get(c["column"])
        missing = raw is None or str(raw).strip().lower() in MISSING
        if c["coding"] == "standardised":
            out.append(0.0 if missing else (float(raw) - c["mean"]) / c["std"])
        elif c["coding"] == "boolean":
            out.append(c["share_true"] if missing else (1.0 if str(raw).strip().lower() == "true" else 0.0))
        elif c["coding"] == "one_hot":
            value = None if missing else str(raw).strip()
            out.extend(1.0 if value == cat else 0.0 for cat in c["categories"])
        else:
            raise SystemExit(f"unknown coding {c['coding']}")
    return out


def predict(artifact, row):
    x = features(artifact["preprocessor"]["codings"], row)
    fitted = artifact["model"]["fitted"]
    if fitted["kind"] == "linear":
        return {"value": fitted["intercept"] + sum(w * v for w, v in zip(fitted["coef"], x))}
    if fitted["kind"] == "logistic":
        k = fitted["classes"]
        z = [fitted["intercept"][c] + sum(x[j] * fitted["coef"][j * k + c] for j in range(len(x))) for c in range(k)]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        p = [v / total for v in e]
        best = max(range(k), key=lambda c: (p[c], -c))
        labels = artifact["labels"]
        return {"label": labels[best], "probabilities": dict(zip(labels, p))}
    raise SystemExit(f"this reader knows linear and logistic models, not {fitted['kind']}")


def main():
    artifact = json.load(open(sys.argv[1]))
    if artifact.get("format") != "cipherfold-model" or artifact.get("version") != 1:
        raise SystemExit("not a version 1 cipherfold model")
    rows = list(csv.DictReader(open(sys.argv[2], newline="")))
    server = json.load(open(sys.argv[3]))["predictions"]
    assert len(rows) == len(server), (len(rows), len(server))
    worst = 0.0
    for i, (row, theirs) in enumerate(zip(rows, server)):
        ours = predict(artifact, row)
        if "value" in ours:
            worst = max(worst, abs(ours["value"] - theirs["value"]))
        else:
            assert ours["label"] == theirs["label"], (i, ours, theirs)
            for label, p in ours["probabilities"].items():
                worst = max(worst, abs(p - theirs["probabilities"][label]))
    assert worst < 1e-9, f"largest difference {worst}"
    print(json.dumps({"rows": len(rows), "max_abs_diff": worst, "kind": artifact["kind"]}))


if __name__ == "__main__":
    main()
