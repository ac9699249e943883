"""Benchmark of SWE-bench-Live grading: what the harness adds around an instance's test command, grading in
parallel, and the disk the images take.

  overhead     `run_instance` on the toy instance (tests/swebench_live/toyrepo.py) with its gold patch, --repeats
               times: the seconds of each phase (start: container and files; apply: the model patch, the test
               files reset, the test patch; test: the test command's exec; teardown: the junit report read and the
               container removed). Goal: start + apply + teardown under 1 s, and under 10% of a typical instance's
               test time (amoffat__sh-744: ~77 s a run on 2 cores, ../shared/research/swe.md section 9).
  throughput   `harness run --model oracle` through the CLI on --instances toy instances whose requested tests
               include one that sleeps 2 s, with --grade-workers 1 and then 2 (a fresh store each): wall time,
               instances a minute, and the scaling from 1 to 2 workers.
  disk         the swe base image and every instance image of ours present (labelled harness.swe.instance=1):
               size, and size above the base.

    .venv/bin/python bench/swe_overhead.py [--repeats 10] [--instances 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.registry import get_task  # noqa: E402
from harness.sandbox import docker_client  # noqa: E402
from tests.swebench_live import toyrepo  # noqa: E402

TASK = get_task("swebench-live")
TYPICAL_TEST_S = 77.0  # amoffat__sh-744's test run on 2 cores (../shared/research/swe.md, section 9)


def module(name: str):
    return __import__(type(TASK).__module__ + "." + name, fromlist=["x"])


def toy_image(tmp: Path) -> tuple[toyrepo.Toy, object, str]:
    images, data = module("images"), module("data")
    toy = toyrepo.make_repo(tmp / "calc")
    inst = data.parse_row(toy.instance(), "toy")
    start = time.monotonic()
    tag = images.build_recipe_image(images.Recipe(inst.instance_id, toy.path, toy.base_commit), log=lambda m: None)
    print(f"toy image {tag} ready in {time.monotonic() - start:.1f} s")
    return toy, inst, tag


def overhead(inst, tag: str, repeats: int) -> None:
    evaluate = module("evaluate")
    tests = list(inst.fail_to_pass + inst.pass_to_pass)
    evaluate.run_instance(tag, inst, inst.patch, tests=tests, timeout_s=60)  # warm the page cache
    rows = []
    for _ in range(repeats):
        t0 = time.monotonic()
        out = evaluate.run_instance(tag, inst, inst.patch, tests=tests, timeout_s=60)
        wall = time.monotonic() - t0
        assert out.exit_code == 0, out.log_tail
        rows.append({**out.phases, "wall": wall})
    client = docker_client()
    bare = []
    for _ in range(repeats):
        t0 = time.monotonic()
        client.containers.run(tag, ["true"], remove=True, network_disabled=True)
        bare.append(time.monotonic() - t0)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    def p90(values: list[float]) -> float:
        return sorted(values)[max(0, int(round(0.9 * len(values))) - 1)]

    harness = [r["start"] + r["apply"] + r["teardown"] for r in rows]
    print(f"\n== overhead: run_instance on the toy instance, gold patch, {repeats} runs (median / p90, seconds)")
    for key in ("start", "apply", "test", "teardown", "wall"):
        print(f"  {key:<9} {med(key):6.3f} / {p90([r[key] for r in rows]):6.3f}")
    h = statistics.median(harness)
    print(f"  harness (start + apply + teardown): {h:.3f} s median, {p90(harness):.3f} s p90 (goal < 1 s)")
    print(f"  for comparison, `docker run --rm <image> true`: {statistics.median(bare):.3f} s median")
    print(f"  share of a typical instance's test run ({TYPICAL_TEST_S:.0f} s, amoffat__sh-744): "
          f"{100 * h / (h + TYPICAL_TEST_S):.2f}% (goal < 10%)")


def throughput(toy: toyrepo.Toy, tag: str, instances: int, tmp: Path) -> None:
    row = toy.instance()
    rows = [dict(row, instance_id=f"toy__calc-{i}", PASS_TO_PASS=[*row["PASS_TO_PASS"], toyrepo.SLEEP])
            for i in range(1, instances + 1)]
    data_file = tmp / "instances.jsonl"
    data_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    mapping = tmp / "map.json"
    mapping.write_text(json.dumps({r["instance_id"]: tag for r in rows}))
    (tmp / "no-recipes").mkdir(exist_ok=True)
    print(f"\n== throughput: harness run --model oracle, {instances} instances, each with a 2 s test")
    walls = {}
    for workers in (1, 2):
        store = tmp / f"store-{workers}.sqlite"
        cmd = [str(REPO / ".venv" / "bin" / "harness"), "--store", str(store), "run", "--task", "swebench-live",
               "--data", str(data_file), "-T", f"image_map={mapping}", "-T", f"recipes_dir={tmp / 'no-recipes'}",
               "-T", "pull=never", "--model", "oracle", "--grade-workers", str(workers)]
        t0 = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True)
        walls[workers] = time.monotonic() - t0
        if r.returncode != 0:
            raise SystemExit(f"harness run failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        print(f"  --grade-workers {workers}: {walls[workers]:5.1f} s wall, "
              f"{60 * instances / walls[workers]:5.1f} instances/min")
    print(f"  scaling 1 -> 2 workers: {walls[1] / walls[2]:.2f}x (ideal 2x; 2 cores, the CLI's start included)")


def disk() -> None:
    images = module("images")
    client = docker_client()
    from harness.sandbox.images import image_tag

    base = client.images.get(image_tag(images.BASE_RECIPE))
    print("\n== disk")
    print(f"  {image_tag(images.BASE_RECIPE):<52} {base.attrs['Size'] / 1e6:8.1f} MB (the swe base)")
    total = 0
    for img in client.images.list(filters={"label": f"{images.LABEL_INSTANCE}=1"}):
        above = images.unique_size(client, img)
        total += above
        for tag in img.tags or [img.id[:19]]:
            print(f"  {tag:<52} {img.attrs['Size'] / 1e6:8.1f} MB, {above / 1e6:8.1f} MB above the base")
    print(f"  instance images above the base, together: {total / 1e6:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--instances", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="swe-bench-") as tmp:
        toy, inst, tag = toy_image(Path(tmp))
        overhead(inst, tag, args.repeats)
        throughput(toy, tag, args.instances, Path(tmp))
        disk()


if __name__ == "__main__":
    main()
