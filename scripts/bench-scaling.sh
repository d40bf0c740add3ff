#!/usr/bin/env bash
# Training cost as rows grow (10k, 100k, 1M × 20): linear and logistic regression and a 100-tree
# forest, time and peak memory on one core and two, beside scikit-learn in the same run (see
# app/benches/scaling.rs). The 1M-row forests take most of the time (about 40 minutes on 2 cores;
# CIPHERFOLD_SCALING_MODELS=linear,logistic leaves them out).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
ensure_python_checkers
if ! "$CIPHERFOLD_PYTHON" -c "import sklearn" 2>/dev/null; then
    log "installing scikit-learn for the reference figures"
    "$(dirname "$CIPHERFOLD_PYTHON")/pip" install -q --disable-pip-version-check scikit-learn
fi
cargo bench -p app --bench scaling
