"""Throughput of CodeIF's static checkers over the whole benchmark, against what a judge would cost.

Every constraint of the 1,200 tasks is checked against a response in the task's language. CodeIF ships no
responses, so each task gets one made from the project's own fixture programs of its language (prose, then a
fenced block of those programs repeated to about --lines lines): the work is the same as for a model's
answer of that size. Prints tasks and constraints per second, the share the checkers decide, and the judge
calls `hybrid` still needs against `llm`'s one per task.

    .venv/bin/python bench/codeif_static.py [--data ../shared/data/codeif] [--lines 120] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TASK_DIR = REPO / "tasks" / "codeif"


def _load():
    sys.path.insert(0, str(REPO))
    from harness.registry import get_task

    task = get_task(str(TASK_DIR))
    return sys.modules[type(task).__module__]


def responses_by_language(lines: int) -> dict[str, str]:
    """A response per language: a sentence of prose and one fenced block of about `lines` lines of code."""
    fixtures = [json.loads(x) for x in open(TASK_DIR / "fixtures" / "questions.jsonl", encoding="utf-8")]
    out = {}
    for lang in ("python", "java", "cpp", "go"):
        programs = [r["reference"] for r in fixtures if r["meta_info"]["programming_language"] == lang]
        body = "\n".join(programs)
        code = body
        while code.count("\n") < lines:
            code += "\n" + body
        out[lang] = f"Here is an implementation.\n\n```{lang}\n{code}```\n\nIt meets the requirements above.\n"
    return out


def check_chunk(args: tuple[list[dict], dict[str, str]]) -> tuple[int, int, int, int]:
    """(tasks, constraints, decided, tasks needing the judge) for a chunk of samples' inputs."""
    rows, responses = args
    module = _load()
    checkers = sys.modules[module.__name__ + ".checkers"]
    program_mod = sys.modules[module.__name__ + ".program"]
    templates = sys.modules[module.__name__ + ".templates"]
    constraints = decided = needing = 0
    for inputs in rows:
        program = program_mod.read_program(responses.get(inputs["language"], ""), inputs["language"])
        cs = templates.match_all(inputs["instructions"], inputs["categories"])
        answers = [checkers.decide(c, program) for c in cs]
        constraints += len(cs)
        d = sum(a.decided for a in answers)
        decided += d
        needing += d < len(cs)
    return len(rows), constraints, decided, needing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "codeif"))
    parser.add_argument("--lines", type=int, default=120, help="lines of code per response")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    module = _load()
    data = sys.modules[module.__name__ + ".data"]
    if not Path(args.data).exists():
        sys.exit(f"no CodeIF data at {args.data}: pass --data")
    samples = list(data.load(data.resolve(args.data), "full"))
    responses = responses_by_language(args.lines)
    rows = [s.inputs for s in samples]
    started = time.perf_counter()
    if args.workers <= 1:
        results = [check_chunk((rows, responses))]
    else:
        chunks = [rows[i::args.workers] for i in range(args.workers)]
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(check_chunk, [(c, responses) for c in chunks]))
    elapsed = time.perf_counter() - started
    tasks, constraints, decided, needing = (sum(r[i] for r in results) for i in range(4))
    print(f"CodeIF static checking: {tasks} tasks, {constraints} constraints, responses of ~{args.lines} code lines,"
          f" {args.workers} worker(s)")
    print(f"  wall time            {elapsed:8.2f} s (goal: under 30 s on 2 cores)")
    print(f"  throughput           {tasks / elapsed:8.1f} tasks/s, {constraints / elapsed:8.0f} constraints/s")
    print(f"  decided by checkers  {decided / constraints:8.1%} of constraints (on these stand-in responses)")
    print(f"  judge calls          hybrid {needing} (tasks with an undecided constraint), llm {tasks} (one per task)")


if __name__ == "__main__":
    main()
