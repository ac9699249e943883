"""The pull-request gate: is a candidate run credibly worse than a baseline run of the same task?

- runs.py     a run as the gate reads it (from the store; harness.export reads and writes baseline files)
- compare.py  pairing by sample id, the per-sample metric values, the tests, Holm, and the decision
- stats.py    McNemar, sign-flip permutation, paired bootstrap, cluster-robust SE, MDE, Holm
- output.py   plain text, Markdown (the CI step summary), JUnit XML and JSON

Exit codes of `harness gate`: EXIT_PASS, EXIT_REGRESSION, EXIT_INCONCLUSIVE; a gate that cannot be made (a
missing run, runs of different task versions) exits 1 like every other error.
"""

from __future__ import annotations

from pathlib import Path

from ..store import Store
from .compare import METRIC_HELP, Comparison, GateResult, Outcome, Settings, gate
from .runs import GateError, RunResults, from_store

EXIT_PASS = 0
EXIT_REGRESSION = 4
EXIT_INCONCLUSIVE = 5
EXIT_CODES = {Outcome.PASS: EXIT_PASS, Outcome.REGRESSION: EXIT_REGRESSION, Outcome.INCONCLUSIVE: EXIT_INCONCLUSIVE}


def load(ref: str, store: Store) -> list[RunResults]:
    """RUN_OR_FILE: an exported baseline file (every run in it) when such a file exists, else a stored run."""
    path = Path(ref)
    if path.is_file():
        from ..export import read

        return read(path)
    return [from_store(store, ref)]


__all__ = ["EXIT_CODES", "EXIT_INCONCLUSIVE", "EXIT_PASS", "EXIT_REGRESSION", "METRIC_HELP", "Comparison",
           "GateError", "GateResult", "Outcome", "RunResults", "Settings", "from_store", "gate", "load"]
