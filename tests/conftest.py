"""Shared fixtures. Tests that read ../shared/data say so when it is absent (a fresh clone has no copy); tests that
need a Docker engine take `docker_client`, which skips them with the reason where none answers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark data not found at {SHARED_DATA} (only CI and developers have ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def docker_client():
    """A client of a Docker engine that answers.  Where none does, every test that needs one is skipped with the
    reason and what to do; under CI (HARNESS_REQUIRE_DOCKER=1) it fails instead: CI must run the container tests.
    Tests that only need an engine to be there take it with `pytest.mark.usefixtures("docker_client")`."""
    from harness.sandbox import engine_available
    from harness.sandbox.engine import docker_client as client

    ok, why = engine_available()
    if not ok:
        if os.environ.get("HARNESS_REQUIRE_DOCKER") == "1":
            pytest.fail(f"HARNESS_REQUIRE_DOCKER=1 (CI) needs a Docker engine: {why}", pytrace=False)
        pytest.skip(f"needs a Docker engine: {why}")
    return client()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Keep the datasets cache and the default store inside the test's own folder."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HARNESS_STORE", str(tmp_path / "store.sqlite"))


class Cli:
    def __init__(self, store: Path):
        self.store = store

    def __call__(self, *args: str, ok: bool = True):
        result = CliRunner().invoke(main, ["--store", str(self.store), *args], catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"harness {' '.join(args)} exited {result.exit_code}:\n{result.output}")
        return result

    def report(self, run: str | None = None) -> dict:
        return json.loads(self("report", *([run] if run else []), "--format", "json").stdout)


@pytest.fixture
def cli(tmp_path) -> Cli:
    return Cli(tmp_path / "store.sqlite")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
