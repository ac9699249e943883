"""How often `harness gate` cries wolf: simulated pairs of runs with no true difference, gated exactly as the
CLI gates them (harness.gate.gate, default settings), and the share called a regression. Goal: the share lies
within the binomial interval of the nominal alpha for that many pairs. Also the gate's power against a true drop,
next to the minimum detectable effect it prints.

Designs (tests/gate/synthetic.py makes the runs: items of varying difficulty, both runs drawn item by item):
  independent    300 binary items, one attempt each                        -> McNemar mid-p
  clustered      154 programs x ~20 items (REval's shape), the candidate better on some programs and worse on
                 others (log-odds shift N(0, 0.5) per program, none on average)  -> sign-flip over programs;
                 McNemar on the same items, ignoring the programs, for contrast
  repeats        300 items, 3 attempts each, averaged per item              -> sign-flip over items
  power          500 binary items, the candidate 5 points worse on every item

    .venv/bin/python bench/gate_false_alarms.py [--pairs 1000] [--alpha 0.05] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.gate import Outcome, Settings, gate  # noqa: E402
from harness.gate import stats  # noqa: E402
from harness.metrics import wilson_interval  # noqa: E402
from tests.gate.synthetic import binary_pair  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000, help="simulated pairs of runs per design")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n, alpha = args.pairs, args.alpha
    half = 1.96 * math.sqrt(alpha * (1 - alpha) / n)
    print(f"{n} simulated pairs per design, alpha {alpha}; the nominal rate's binomial 95% interval for {n} pairs "
          f"is [{alpha - half:.3f}, {alpha + half:.3f}]\n")
    print(f"{'design':<13} {'test':<40} {'alarms':>6} {'rate':>6} {'95% interval':>16} {'goal':>5} {'ms/gate':>8}")

    def row(design: str, test: str, alarms: int, seconds: float | None, goal: bool = True) -> None:
        lo, hi = wilson_interval(alarms, n)
        ok = "yes" if alpha - half <= alarms / n <= alpha + half else "NO"
        ms = f"{1000 * seconds / n:8.1f}" if seconds is not None else f"{'':>8}"
        print(f"{design:<13} {test:<40} {alarms:>6} {alarms / n:>6.3f} {f'[{lo:.3f}, {hi:.3f}]':>16} "
              f"{ok if goal else '-':>5} {ms}")

    settings = Settings(alpha=alpha)
    alarms, t0 = 0, time.perf_counter()
    for _ in range(n):
        base, cand, _ = binary_pair(rng, 300)
        alarms += gate([base], [cand], ["pass@1"], settings).outcome is Outcome.REGRESSION
    row("independent", "McNemar mid-p (the gate)", alarms, time.perf_counter() - t0)

    clustered, naive, seconds = 0, 0, 0.0
    cluster_settings = Settings(alpha=alpha, cluster_key="program")
    for _ in range(n):
        base, cand, _ = binary_pair(rng, 3080, clusters=154, cluster_sd=0.5)
        t0 = time.perf_counter()
        clustered += gate([base], [cand], ["pass@1"], cluster_settings).outcome is Outcome.REGRESSION
        seconds += time.perf_counter() - t0
        b = sum(base.samples[s].attempts[0].status == "pass" and cand.samples[s].attempts[0].status != "pass"
                for s in base.samples)
        c = sum(base.samples[s].attempts[0].status != "pass" and cand.samples[s].attempts[0].status == "pass"
                for s in base.samples)
        naive += stats.mcnemar_regression(b, c).p_mid <= alpha
    row("clustered", "sign-flip over programs (the gate)", clustered, seconds)
    row("clustered", "McNemar on items, programs ignored", naive, None, goal=False)

    alarms, t0 = 0, time.perf_counter()
    for _ in range(n):
        base, cand, _ = binary_pair(rng, 300, attempts=3)
        alarms += gate([base], [cand], ["pass@1"], settings).outcome is Outcome.REGRESSION
    row("repeats", "sign-flip over items (the gate)", alarms, time.perf_counter() - t0)

    power_pairs = max(100, n // 4)
    found, mdes = 0, []
    for _ in range(power_pairs):
        base, cand, _ = binary_pair(rng, 500, drop=0.05)
        c = gate([base], [cand], ["pass@1"], settings).comparisons[0]
        found += c.outcome is Outcome.REGRESSION
        mdes.append(c.evidence.mde)
    lo, hi = wilson_interval(found, power_pairs)
    print(f"\npower: a true drop of 0.05 on 500 items was called a regression in {found} of {power_pairs} pairs "
          f"({found / power_pairs:.2f}, 95% [{lo:.2f}, {hi:.2f}]); the gate's printed MDE (power 0.8) was "
          f"{np.median(mdes):.3f} (median)")


if __name__ == "__main__":
    main()
