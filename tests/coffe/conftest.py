"""COFFE test fixtures: the task, its own small data folder, and a sandbox-backed grader with a private cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.registry import get_task
from harness.sandbox import engine_available

TASK = get_task("coffe")
FIXTURE = TASK.folder / "fixtures"
cache_mod = __import__(type(TASK).__module__ + ".cache", fromlist=["x"])


@pytest.fixture(scope="session")
def graded_task(tmp_path_factory):
    """The coffe task with a Docker sandbox (skipped with the reason where no engine answers, failed under CI),
    its reference-count cache in a folder of this test session."""
    ok, why = engine_available()
    if not ok:
        if os.environ.get("HARNESS_REQUIRE_DOCKER") == "1":
            pytest.fail(f"HARNESS_REQUIRE_DOCKER=1 but no Docker engine answers: {why}", pytrace=False)
        pytest.skip(f"no Docker engine: {why}")
    cache_dir: Path = tmp_path_factory.mktemp("coffe-cache")
    TASK.grader._cache = cache_mod.ReferenceCache(cache_dir / "coffe-reference.sqlite")
    yield TASK
    TASK.grader.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a COFFE test that counts instructions under valgrind for more than a "
                                       "few seconds (deselect with -m 'not slow')")
