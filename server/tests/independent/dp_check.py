#!/usr/bin/env python3
"""ε of the Poisson-sampled Gaussian mechanism by Google's `dp-accounting` (its RDP accountant,
the reference for Cipherfold's app::dp::accountant).

  dp_check.py CASES.json     CASES: [{"q", "sigma", "steps", "delta"}, ...]

Prints [ε, ...] in the same order.
"""
import json
import sys

import dp_accounting
from dp_accounting.rdp import rdp_privacy_accountant


def epsilon(q, sigma, steps, delta):
    accountant = rdp_privacy_accountant.RdpAccountant()
    event = dp_accounting.GaussianDpEvent(sigma)
    if q < 1:
        event = dp_accounting.PoissonSampledDpEvent(q, event)
    accountant.compose(event, steps)
    return accountant.get_epsilon(delta)


if __name__ == "__main__":
    cases = json.load(open(sys.argv[1]))
    print(json.dumps([epsilon(c["q"], c["sigma"], c["steps"], c["delta"]) for c in cases]))
