"""TMBench: step-by-step simulation of m-tag systems (computational reasoning).

Splits are the four published symbol sets of the same 100 instances: default (A-E), greek, number, special.
Without --data the instances are generated (seed 1 reproduces the published files byte for byte);
--data takes a JSON file in the published shape, a JSONL file with one instance per line, a folder holding
TMBench*.json, or hf:<repo id>[@revision].

Scoring follows the published definitions: each "step i: ... Queue State: [...]" block is parsed (the last
block for a step wins), ACC(i) is the accuracy at step i over the attempts whose ground truth has a step i,
SWA averages ACC over steps 0..30 with uniform or linear (i+1) weights, and pass means every ground-truth
step is right (extra predicted steps are ignored).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

import jinja2
import numpy as np

from harness.metrics import bootstrap_interval, pass_at_k_table, wilson_interval
from harness.task import DataSource, LoadOptions, Task, TaskError, file_sha256
from harness.types import Answer, Metrics, Prompt, Sample, SampleResult, Status, Verdict

from . import tag_system

VARIANTS = {"default": "ABCDE", "greek": "αβγδε", "number": "12345", "special": "@#$%&"}
FILES = {"default": "TMBench.json", "greek": "TMBenchGreek.json", "number": "TMBenchNumber.json",
         "special": "TMBenchSpecial.json"}
SYSTEM = "You are a careful assistant. Reason step by step."

# The published parser: symbols of every variant, separators removed afterwards.
STEP_PATTERN = re.compile(r"(?i)step (\d+):.*?Queue State:.*?\[([ABCDE12345αβγδε@#$%&* ,]*)\]", re.DOTALL)
THINK_PATTERN = re.compile(r"<think>.*?</think>", re.DOTALL)


def parse_steps(text: str) -> dict[int, str]:
    """Each step's queue as the model wrote it; reasoning in <think> blocks is ignored."""
    text = THINK_PATTERN.sub("", text)
    steps: dict[int, str] = {}
    for number, queue in STEP_PATTERN.findall(text):
        steps[int(number)] = queue.replace(" ", "").replace(",", "")
    return steps


class TMBench(Task):
    name = "tmbench"
    version = "1"
    description = "Simulate a 2-tag system step by step; step-weighted accuracy (SWA) and pass"
    splits = tuple(VARIANTS)
    default_split = "default"
    subsets = {"pr": 30}  # for pull-request gates: 30 of the 100 instances

    # --- data -----------------------------------------------------------------------------------------
    def size(self, split: str | None = None) -> int | None:
        return 100

    def source(self, options: LoadOptions) -> DataSource:
        split = self.split_or_default(options.split)
        if options.data is None:
            text = tag_system.dumps(self._generated(split))
            return DataSource(f"generated (seed 1, published parameters), {split} symbols",
                              hashlib.sha256(text.encode("utf-8")).hexdigest())
        if options.data.startswith("hf:"):
            ds = self._hub_dataset(options.data, split)
            return DataSource(f"{options.data} ({FILES[split]})", ds._fingerprint)
        path = self._data_file(Path(options.data), split)
        return DataSource(str(path), file_sha256(path))

    def samples(self, options: LoadOptions) -> Iterator[Sample]:
        split = self.split_or_default(options.split)
        if options.data is None:
            rows, where = self._generated(split)["samples"], "generated data"
        elif options.data.startswith("hf:"):
            rows, where = self._hub_dataset(options.data, split), options.data
        else:
            path = self._data_file(Path(options.data), split)
            rows, where = self._read_file(path), str(path)
        for i, row in enumerate(rows):
            yield self._sample(row, i, where)

    def generate(self, jsonl: bool = False, **params: Any) -> str:
        """`harness generate tmbench`: new instances as JSON in the published shape (or JSONL, one per line)."""
        fields = tag_system.GeneratorParams.__dataclass_fields__
        unknown = set(params) - set(fields)
        if unknown:
            raise TaskError(f"tmbench generator: unknown parameter(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(fields)}")
        try:
            typed = {k: (v if k == "alphabet" else int(v)) for k, v in params.items()}
            data = tag_system.generate(tag_system.GeneratorParams(**typed))
        except (TypeError, ValueError) as exc:
            raise TaskError(f"tmbench generator: {exc}") from exc
        if jsonl:
            return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in data["samples"])
        return tag_system.dumps(data)

    def _generated(self, split: str) -> dict:
        data = tag_system.generate()
        return data if split == "default" else tag_system.substitute(data, VARIANTS[split])

    def _data_file(self, path: Path, split: str) -> Path:
        if path.is_dir():
            path = path / FILES[split]
        if not path.is_file():
            raise TaskError(f"tmbench: data file {path} not found (give a TMBench*.json file or its folder)")
        return path

    def _read_file(self, path: Path) -> Iterable[Any]:
        if path.suffix == ".jsonl":
            return self._read_jsonl(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise TaskError(f"tmbench: cannot read {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise TaskError(f"tmbench: {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
            raise TaskError(f"tmbench: {path} must be an object with a 'samples' list")
        return data["samples"]

    def _read_jsonl(self, path: Path) -> Iterator[Any]:
        """One instance per line, streamed (memory stays flat however many instances there are)."""
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise TaskError(f"tmbench: {path}, line {lineno}: not valid JSON ({exc.msg})") from exc

    def _hub_dataset(self, ref: str, split: str):
        import datasets

        repo, _, revision = ref[3:].partition("@")
        try:
            return datasets.load_dataset(repo, data_files={"train": f"**/{FILES[split]}"}, field="samples",
                                         split="train", revision=revision or None)
        except Exception as exc:  # offline, unknown repo, missing file
            raise TaskError(f"tmbench: cannot load {ref} through datasets: {type(exc).__name__}: {exc}. "
                            f"Offline, pass --data with a local TMBench*.json file instead") from exc

    def _sample(self, row: Any, i: int, where: str) -> Sample:
        def bad(field: str, why: str) -> TaskError:
            rid = row.get("id") if isinstance(row, dict) else None
            return TaskError(f"tmbench: {where}, sample {i}{f' (id {rid})' if rid else ''}: field {field!r} {why}")

        if not isinstance(row, dict):
            raise TaskError(f"tmbench: {where}, sample {i}: expected an object, got {type(row).__name__}")
        for field, typ in (("id", str), ("init_str", str), ("rule", dict), ("delete_count", int),
                           ("step_results", list)):
            if field not in row or row[field] is None:
                raise bad(field, "is missing")
            if not isinstance(row[field], typ):
                raise bad(field, f"must be {typ.__name__}, got {type(row[field]).__name__}")
        rules = {k: v for k, v in row["rule"].items() if v is not None}  # hub rows carry every symbol's column
        m, steps = row["delete_count"], row["step_results"]
        if m < 1:
            raise bad("delete_count", "must be at least 1")
        if not steps or not all(isinstance(s, str) for s in steps):
            raise bad("step_results", "must be a non-empty list of strings")
        missing = {c for c in row["init_str"] + "".join(rules.values()) if c not in rules}
        if missing:
            raise bad("rule", f"has no production for symbol(s) {''.join(sorted(missing))}")
        if tag_system.simulate(row["init_str"], rules, m, len(steps)) != steps:
            raise bad("step_results", "disagrees with a simulation of init_str under rule")
        return Sample(
            id=row["id"],
            inputs={"init": row["init_str"], "rules": rules, "m": m},
            reference=list(steps),
            metadata={"steps": len(steps) - 1, "halts": len(steps[-1]) < m},
        )

    # --- prompt, answer, grade --------------------------------------------------------------------------
    def render(self, sample: Sample, template: jinja2.Template) -> Prompt:
        rules = sample.inputs["rules"]
        text = template.render(
            m=sample.inputs["m"],
            alphabet=sorted(rules),
            init=list(sample.inputs["init"]),
            rules=[(s, list(rules[s])) for s in sorted(rules)],
            steps=30,
        )
        return Prompt.chat(text, system=SYSTEM)

    def extract(self, sample: Sample, text: str) -> Answer:
        steps = parse_steps(text)
        return Answer(value=steps, canonical=json.dumps(sorted(steps.items()), ensure_ascii=False))

    def grade(self, sample: Sample, answer: Answer) -> Verdict:
        truth: list[str] = sample.reference
        got = answer.value
        marks = "".join(["1" if got.get(i) == state else "0" for i, state in enumerate(truth)])
        all_right = "0" not in marks
        details: dict[str, Any] = {"steps": marks}
        if not all_right:
            first = marks.index("0")
            details["first_wrong_step"] = first
            details["expected"] = truth[first]
            details["got"] = answer.value.get(first)
        return Verdict(Status.PASS if all_right else Status.FAIL, marks.count("1") / len(marks), details)

    def reference_response(self, sample: Sample) -> str:
        states: list[str] = sample.reference
        rules, m = sample.inputs["rules"], sample.inputs["m"]
        parts = [f"### Step 0:\n- Queue State: [{' '.join(states[0])}]\n"]
        for k in range(1, len(states)):
            head = states[k - 1][0]
            parts.append(f"### Step {k}:\n- Head Symbol: {head}\n- Action: remove {m} symbols, append "
                         f"{' '.join(rules[head])}\n- Queue State: [{' '.join(states[k])}]\n")
        if len(states[-1]) < m:
            parts.append("<halt>\n")
        return "\n".join(parts)

    # --- metrics ----------------------------------------------------------------------------------------
    def aggregate(self, results: Iterable[SampleResult], samples_per_problem: int) -> Metrics:
        correct_rows, total_rows, passes, attempts = [], [], [], []
        for res in results:
            if not res.verdicts:
                continue
            marks = [v.details.get("steps", "") for v in res.verdicts]
            width = max(len(m) for m in marks)
            correct, total = np.zeros(width), np.zeros(width)
            for m in marks:
                total[: len(m)] += 1
                correct[: len(m)] += np.frombuffer(m.encode(), dtype=np.uint8) == ord("1")
            correct_rows.append(correct)
            total_rows.append(total)
            passes.append(res.correct)
            attempts.append(res.n)
        metrics = Metrics(counts={"problems": len(passes), "attempts": int(sum(attempts))})
        if not passes:
            return metrics
        width = max(len(r) for r in correct_rows)
        corr, tot = np.zeros((len(passes), width)), np.zeros((len(passes), width))
        for i, (c, t) in enumerate(zip(correct_rows, total_rows)):
            corr[i, : len(c)], tot[i, : len(t)] = c, t
        uniform, linear = np.ones(width), np.arange(1, width + 1, dtype=float)

        def swa(weights_by_problem: np.ndarray, step_weights: np.ndarray) -> np.ndarray:
            """SWA for each row of problem weights (a row of ones is the run itself)."""
            c, t = weights_by_problem @ corr, weights_by_problem @ tot
            acc = np.divide(c, t, out=np.zeros_like(c), where=t > 0)
            return 100 * (acc @ step_weights) / step_weights.sum()

        everyone = np.ones((1, len(passes)))
        for name, w in (("swa_uniform", uniform), ("swa_linear", linear)):
            metrics.add(name, float(swa(everyone, w)[0]), bootstrap_interval(lambda W, w=w: swa(W, w), len(passes)))
        n_total, n_pass = int(sum(attempts)), int(sum(passes))
        metrics.add("pass", n_pass / samples_per_problem)
        metrics.add("pass_rate", n_pass / n_total, wilson_interval(n_pass, n_total))
        for name, (value, interval) in (pass_at_k_table(attempts, passes) if min(attempts) >= 2 else {}).items():
            metrics.add(name, value, interval)
        acc = np.divide(corr.sum(axis=0), tot.sum(axis=0), out=np.zeros(width), where=tot.sum(axis=0) > 0)
        for i in range(width):
            metrics.values[f"acc_step_{i}"] = float(acc[i])
        metrics.counts["passed"] = n_pass
        return metrics


TASK = TMBench(Path(__file__).parent)
