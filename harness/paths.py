"""Where the harness's own top-level folders are: beside the package in a source checkout, inside it
(`harness/_builtin/`) in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def builtin_dir(name: str) -> Path:
    """`tasks` or `sandboxes` of this installation."""
    for candidate in (_HERE.parent / name, _HERE / "_builtin" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the harness's {name}/ folder is missing from this installation ({_HERE}); "
                            f"reinstall the harness")
