"""CodeIF test helpers: the task as the registry loads it, and its modules (the task folder is a package under
the registry's private name, so its modules are reached through the loaded task)."""

from __future__ import annotations

import importlib
from types import ModuleType

from harness.registry import get_task

TASK = get_task("codeif")
FIXTURES = TASK.folder / "fixtures"


def codeif_module(name: str) -> ModuleType:
    return importlib.import_module(f"{type(TASK).__module__}.{name}")
