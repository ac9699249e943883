"""Every cache key of the store, in one place.

- A response is keyed by the model (its fingerprint and the generation parameters that can change what it
  answers), the prompt, and the attempt index.
- A verdict is keyed by everything that can change it: the task (name, version, a hash of its code and
  templates computed here, the options that change grading), the sample's content (not only its id: a corrected
  expected answer is a new sample), the answer, and the grader's fingerprint for that sample (the sandbox
  image's digest, the judge model's key).
- A sample's content hash covers its id, inputs, reference and metadata.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from .models.retry import POLICY_KEYS
from .types import GenParams, Sample, stable_hash

# --model-arg keys that say how to run a model, not what it answers: left out of cache keys and run names
RUNTIME_KEYS = frozenset(POLICY_KEYS) | {"batch_size", "device", "gpu_memory_utilization", "enforce_eager",
                                         "prefix_caching", "tensor_parallel_size"}

# Files of a task folder that are not its code: its own test data, caches, notes.
_NOT_CODE_DIRS = {"fixtures", "__pycache__", "tests"}
_NOT_CODE_SUFFIXES = {".md", ".pyc"}


def output_params(params: GenParams) -> dict[str, Any]:
    """The parameters that can change what a model answers (retries, time-outs, batching, devices cannot)."""
    d = params.as_dict()
    d["extra"] = {k: v for k, v in d["extra"].items() if k not in RUNTIME_KEYS}
    return d


def model_key(fingerprint: dict[str, Any], params: GenParams) -> str:
    """What identifies a model's outputs: its fingerprint and the parameters that can change them."""
    return stable_hash(fingerprint, output_params(params))


def response_key(model: str, prompt_key: str, idx: int) -> str:
    """The cache key of one response: the model (see `model_key`), the prompt, and the attempt index."""
    return stable_hash("response", model, prompt_key, idx)


def sample_hash(sample: Sample) -> str:
    return stable_hash(sample.id, sample.inputs, sample.reference, sample.metadata)


def code_hash(folder: Path) -> str:
    """sha256 over a task folder's code and templates (paths and contents; fixtures, caches and notes left out).
    Computed by the engine, so an edited grader can never reuse verdicts of the old one."""
    folder = Path(folder)
    h = hashlib.sha256()
    if folder.is_file():  # a task that is one module
        folder, files = folder.parent, [folder]
    else:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not _skipped(p.relative_to(folder)))
    for path in files:
        rel = path.relative_to(folder).as_posix().encode("utf-8")
        data = path.read_bytes()
        h.update(b"%d:%s%d:" % (len(rel), rel, len(data)))
        h.update(data)
    return h.hexdigest()


def _skipped(rel: Path) -> bool:
    parts = rel.parts
    return (any(p in _NOT_CODE_DIRS or p.startswith(".") for p in parts[:-1]) or parts[-1].startswith(".")
            or rel.suffix in _NOT_CODE_SUFFIXES)


# The harness's own code that decides verdicts for every task: exit-code grading, sandbox requests and results,
# and the runner's rule for answers that cannot be extracted (RULES below).
_GRADING_MODULES = ("sandbox/grading.py", "sandbox/request.py", "sandbox/result.py")
RULES = "unextractable-is-error/1"


@functools.lru_cache(maxsize=1)
def harness_grading_hash() -> str:
    root = Path(__file__).resolve().parent
    h = hashlib.sha256(RULES.encode())
    for rel in _GRADING_MODULES:
        h.update((root / rel).read_bytes())
    return h.hexdigest()


def task_key(name: str, version: str, code: str, grading_args: dict[str, Any]) -> str:
    """What identifies a task's grading: name, version, code hash, the options that change verdicts, and the
    harness's own grading code."""
    return stable_hash("task", name, version, code, grading_args, harness_grading_hash())


def verdict_key(task: str, sample: str, canonical_answer: str, grader: Any) -> str:
    """task: `task_key`; sample: `sample_hash`; grader: the grader's fingerprint for this sample."""
    return stable_hash("verdict", task, sample, canonical_answer, grader)
