"""Benchmark of `harness site`: build time and size for a store of 100 runs x 1,000 samples.

The store is made by real runs through the engine: TMBench instances generated in four symbol sets (four
benchmarks, 1,000 instances each) and 25 replayed "models" per benchmark, each a different mix of the reference
answers and answers that go wrong after a random step (so scores, ranks and ties vary). Then:

  full build       a new folder: every page rendered and written
  no change        the same command again: nothing rendered, nothing written
  one new run      one more model on one benchmark: only its pages and the pages that list it change

Prints each build's wall time and CPU time, its worker processes' included (the rest is waiting on the disk: a full build writes about 1 GB in
100,000 files, which this machine's disk has taken from 7 to 50 s to do alone), the pages rendered and written, the
site's size and the overview's size, against the goals (a full build under 60 s, the overview under 200 KB).

    .venv/bin/python bench/site_build.py [--models 25] [--samples 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

from harness.cli import execute_run  # noqa: E402
from harness.registry import get_task  # noqa: E402
from harness.site import SiteOptions, build_site  # noqa: E402
from harness.store import Store  # noqa: E402
from harness.task import LoadOptions  # noqa: E402
from harness.types import GenParams  # noqa: E402

SPLITS = {"default": "ABCDE", "greek": "αβγδε", "number": "12345", "special": "@#$%&"}
GOAL_BUILD_S = 60.0
GOAL_OVERVIEW_KB = 200.0


def wrong_after(response: str, step: int) -> str:
    """The reference answer up to `step`, then a queue that is wrong from there on."""
    blocks = response.split("### Step ")
    kept = "### Step ".join(blocks[: step + 1])
    return kept + "".join(f"### Step {i}:\n- Queue State: [A]\n" for i in range(step, len(blocks) - 1))


def models_file(store: Store, root: Path) -> Path:
    """The model facts file: one label per model (`model-07`), whose replay files differ by benchmark."""
    facts = {run.model: {"label": Path(run.model).stem.rsplit("-", 1)[0], "organisation": "bench"}
             for run in store.list_runs()}
    path = root / "models.json"
    path.write_text(json.dumps(facts, indent=1), encoding="utf-8")
    return path


def make_store(root: Path, models: int, samples: int) -> tuple[Store, dict[str, Path]]:
    """The store and the data file of each split."""
    task = get_task("tmbench")
    store = Store(root / "store.sqlite")
    data = {}
    for split, alphabet in SPLITS.items():
        path = root / f"tm-{split}.jsonl"
        path.write_text(task.generate(jsonl=True, count=str(samples), alphabet=alphabet, seed="1"), encoding="utf-8")
        data[split] = path
    rng = random.Random(0)
    for split, path in data.items():
        references = [(s.id, task.reference_response(s)) for s in task.samples(LoadOptions(data=str(path)))]
        for m in range(models):
            skill = 0.15 + 0.8 * m / max(1, models - 1)  # the share of instances answered right
            lines = []
            for sid, ref in references:
                text = ref if rng.random() < skill else wrong_after(ref, rng.randrange(0, 31))
                lines.append(json.dumps({"id": sid, "response": text}, ensure_ascii=False))
            predictions = root / f"model-{m:02d}-{split}.jsonl"
            predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
            execute_run(store, "tmbench", f"replay:{predictions}", GenParams(),
                        LoadOptions(split=split, data=str(path)), progress=False)
    return store, data


def cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (the build's worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def build(store: Path, out: Path, facts: Path, label: str):
    cpu = cpu_seconds()
    report = build_site(SiteOptions(store=store, out=out, models_file=facts))
    cpu = cpu_seconds() - cpu
    s = report.output
    print(f"{label:<14} {report.seconds:>7.1f} {cpu:>6.1f} {report.runs:>5} {report.sample_pages:>8,} "
          f"{report.sample_pages_rendered:>9,} {s.written:>8,} {s.files:>8,} {s.bytes / 1e6:>8.1f} "
          f"{report.overview_bytes / 1e3:>10.1f}")
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=25, help="replayed models per benchmark (4 benchmarks)")
    ap.add_argument("--samples", type=int, default=1000, help="samples per run")
    ap.add_argument("--keep", type=Path, help="build in this folder (and keep the store and site there)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if args.keep and (root / "store.sqlite").is_file():
            store, data = Store(root / "store.sqlite"), {split: root / f"tm-{split}.jsonl" for split in SPLITS}
            print(f"store: reusing {store.path} ({len(store.list_runs())} runs)")
        else:
            store, data = make_store(root, args.models, args.samples)
            print(f"store: {len(store.list_runs())} runs x {args.samples:,} samples made through the engine in "
                  f"{time.perf_counter() - t0:.0f} s ({(root / 'store.sqlite').stat().st_size / 1e6:.0f} MB)")
        facts = models_file(store, root)
        out = root / "site"
        if out.exists():
            shutil.rmtree(out)  # a full build starts from nothing
        print(f"{'build':<14} {'time s':>7} {'cpu s':>6} {'runs':>5} {'samples':>8} {'rendered':>9} {'written':>8} "
              f"{'files':>8} {'MB':>8} {'overview KB':>11}")
        full = build(store.path, out, facts, "full build")
        build(store.path, out, facts, "no change")
        task = get_task("tmbench")
        references = [(s.id, task.reference_response(s)) for s in task.samples(LoadOptions(data=str(data["default"])))]
        extra = root / f"model-new{int(time.time())}-default.jsonl"  # a new model each time the bench runs
        extra.write_text("".join(json.dumps({"id": sid, "response": f"{ref}\n({extra.name})"}) + "\n"
                                 for sid, ref in references), encoding="utf-8")
        execute_run(store, "tmbench", f"replay:{extra}", GenParams(), LoadOptions(split="default",
                                                                                 data=str(data["default"])),
                    progress=False)
        build(store.path, out, models_file(store, root), "one new run")
        ok_time = full.seconds < GOAL_BUILD_S
        ok_size = full.overview_bytes / 1e3 < GOAL_OVERVIEW_KB
        print(f"goals: full build {full.seconds:.1f} s < {GOAL_BUILD_S:.0f} s: {'met' if ok_time else 'MISSED'}; "
              f"overview {full.overview_bytes / 1e3:.1f} KB < {GOAL_OVERVIEW_KB:.0f} KB: "
              f"{'met' if ok_size else 'MISSED'}")
        if args.keep:
            print(f"kept in {root} (open {out / 'index.html'})")
    sys.exit(0 if ok_time and ok_size else 1)


if __name__ == "__main__":
    main()
