"""A store made the way a user makes one (real runs through the `harness` CLI), and the site built from it.

Runs:
- tmbench: the oracle and the recorded smoke predictions, on the first 6 instances;
- echo (tests/fixtures/echo_task), 20 samples: the oracle (20 right), `echo-close` (19: wrong on n00001) and
  `echo-weak` (14: wrong on n00000-n00005; n00003's response carries markup, as a hostile model might write);
- dated (tests/site/dated_task), 24 samples dated month by month from 2023-01: the oracle, and `dated-old`, right on
  the samples dated in 2023 and wrong on those of 2024, whose model facts give a training cutoff of 2023-12.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from harness.cli import main
from harness.site.command import site

REPO = Path(__file__).resolve().parents[2]
ECHO = REPO / "tests" / "fixtures" / "echo_task"
DATED = REPO / "tests" / "site" / "dated_task"
TMBENCH_REPLAY = REPO / "tasks" / "tmbench" / "fixtures" / "smoke_predictions.jsonl"
HOSTILE = "<script>alert('owned')</script></pre><img src=x onerror=alert(1)> my answer: 7"


@dataclass(frozen=True)
class Demo:
    root: Path
    store: Path
    out: Path
    models_file: Path
    runs: dict[str, str]  # short name -> run name

    def harness(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["--store", str(self.store), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    def report(self, run: str) -> dict:
        return json.loads(self.harness("report", run, "--format", "json"))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def run(store: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--store", str(store), "run", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def build(store: Path, out: Path, *extra: str, ok: bool = True):
    result = CliRunner().invoke(site, ["--out", str(out), "--store", str(store), *extra], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def echo_predictions(path: Path, wrong: set[int], hostile: int | None = None) -> Path:
    rows = []
    for i in range(20):
        text = f"The answer is {2 * i + (1 if i in wrong else 0)}"
        rows.append({"id": f"n{i:05d}", "response": HOSTILE if i == hostile else text})
    return write_jsonl(path, rows)


def make_demo(root: Path) -> Demo:
    root.mkdir(parents=True, exist_ok=True)
    store = root / "store.sqlite"
    run(store, "--task", "tmbench", "--model", "oracle", "--limit", "6")
    run(store, "--task", "tmbench", "--model", f"replay:{TMBENCH_REPLAY}", "--limit", "6")
    run(store, "--task", str(ECHO), "--model", "oracle", "--limit", "20")
    close = echo_predictions(root / "echo-close.jsonl", {1})
    weak = echo_predictions(root / "echo-weak.jsonl", {0, 1, 2, 3, 4, 5}, hostile=3)
    run(store, "--task", str(ECHO), "--model", f"replay:{close}", "--limit", "20")
    run(store, "--task", str(ECHO), "--model", f"replay:{weak}", "--limit", "20")
    run(store, "--task", str(DATED), "--model", "oracle")
    old = write_jsonl(root / "dated-old.jsonl", [{"id": f"d{i:03d}", "response": str(2 * i if i < 12 else -1)}
                                                  for i in range(24)])
    run(store, "--task", str(DATED), "--model", f"replay:{old}")
    models_file = root / "models.json"
    models_file.write_text(json.dumps({f"replay:{old}": {"label": "Old model", "organisation": "Tests",
                                                         "training_cutoff": "2023-12"}}), encoding="utf-8")
    names = {}
    for row in json.loads(CliRunner().invoke(main, ["--store", str(store), "report", *_all_runs(store), "--format",
                                                    "json"]).stdout):
        key = {"oracle": "oracle"}.get(row["model"]) or Path(row["model"].partition(":")[2]).stem
        names[f"{row['task']}/{key}"] = row["run"]
    out = root / "site"
    build(store, out, "--models", str(models_file))
    return Demo(root, store, out, models_file, names)


def _all_runs(store: Path) -> list[str]:
    from harness.store import Store

    return [r.name for r in Store(store).list_runs()]
