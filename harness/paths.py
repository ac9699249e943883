"""Where things live: the harness's own top-level folders (beside the package in a source checkout, inside it,
`harness/_builtin/`, in an installed wheel) and its machine-wide cache folder."""

from __future__ import annotations

import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def builtin_dir(name: str) -> Path:
    """`tasks` or `sandboxes` of this installation."""
    for candidate in (_HERE.parent / name, _HERE / "_builtin" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the harness's {name}/ folder is missing from this installation ({_HERE}); "
                            f"reinstall the harness")


def cache_dir() -> Path:
    """Where the harness keeps machine-wide caches (reference instruction counts, file digests):
    $HARNESS_CACHE_DIR, else $XDG_CACHE_HOME/harness, else ~/.cache/harness."""
    if os.environ.get("HARNESS_CACHE_DIR"):
        return Path(os.environ["HARNESS_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "harness"
