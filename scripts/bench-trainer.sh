#!/usr/bin/env bash
# Trainer benchmarks beside pandas and scikit-learn in the same run (see app/benches/trainer.rs).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
ensure_python_checkers
if ! "$CIPHERFOLD_PYTHON" -c "import pandas, sklearn" 2>/dev/null; then
    log "installing pandas and scikit-learn for the reference figures"
    "$(dirname "$CIPHERFOLD_PYTHON")/pip" install -q --disable-pip-version-check pandas scikit-learn
fi
cargo bench -p app --bench trainer
