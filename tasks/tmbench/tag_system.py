"""m-tag systems: the simulator that is TMBench's ground truth, and the generator of its instances.

A step reads the head symbol x, deletes m symbols from the head and appends the production P(x); the
system halts when fewer than m symbols remain. The state list starts with the initial queue (step 0).
With the published parameters and seed 1, `generate()` reproduces TMBench.json byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass


def simulate(initial: str, rules: dict[str, str], m: int, max_states: int) -> list[str]:
    """Queue states 0..max_states-1, stopping early after the first state shorter than m (which is kept)."""
    states = [initial]
    queue = initial
    while len(states) < max_states and len(queue) >= m:
        queue = queue[m:] + rules[queue[0]]
        states.append(queue)
    return states


def instance_id(initial: str, rules: dict[str, str]) -> str:
    return hashlib.sha256((initial + json.dumps(rules, sort_keys=True)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GeneratorParams:
    """The published TMBench settings are the defaults (30 steps: 31 states counting the initial one)."""

    m: int = 2
    alphabet: str = "ABCDE"
    rule_min_length: int = 1
    rule_max_length: int = 5
    init_min_length: int = 2
    init_max_length: int = 9
    steps: int = 30
    count: int = 100
    seed: int = 1


def generate(p: GeneratorParams = GeneratorParams()) -> dict:
    """Draw instances until `count` distinct ones are found; an instance whose queue ever repeats the previous
    state (a fixed point) is rejected. Returns the dataset in the published file's shape."""
    if not p.alphabet or len(set(p.alphabet)) != len(p.alphabet):
        raise ValueError("alphabet must be a non-empty string of distinct symbols")
    if not (1 <= p.rule_min_length <= p.rule_max_length and 1 <= p.init_min_length <= p.init_max_length):
        raise ValueError("length ranges must satisfy 1 <= min <= max")
    symbols = list(p.alphabet)
    rng = random.Random(p.seed)
    seen: set[str] = set()
    samples = []
    attempts = 0
    while len(samples) < p.count:
        attempts += 1
        if attempts > 1000 * p.count + 10000:
            raise ValueError("could not draw enough distinct instances with these parameters")
        rules = {s: "".join(rng.choices(symbols, k=rng.randint(p.rule_min_length, p.rule_max_length)))
                 for s in symbols}
        initial = "".join(rng.choices(symbols, k=rng.randint(p.init_min_length, p.init_max_length)))
        key = instance_id(initial, rules)
        states = simulate(initial, rules, p.m, p.steps + 1)
        if any(a == b for a, b in zip(states, states[1:])) or key in seen:
            continue
        seen.add(key)
        samples.append({"id": key, "init_str": initial, "rule": rules, "delete_count": p.m, "step_results": states})
    return {
        "symbol_set": symbols,
        "rule_min_length": p.rule_min_length,
        "rule_max_length": p.rule_max_length,
        "str_min_length": p.init_min_length,
        "str_max_length": p.init_max_length,
        "max_step": p.steps + 1,
        "delete_count": p.m,
        "samples": samples,
    }


def substitute(dataset: dict, alphabet: str) -> dict:
    """The same instances written with other symbols (how the Greek, Number and Special variants are made)."""
    table = dict(zip(dataset["symbol_set"], alphabet))
    tr = lambda s: "".join(table[c] for c in s)  # noqa: E731
    out = {**dataset, "symbol_set": list(alphabet)}
    out["samples"] = [
        {**s, "init_str": tr(s["init_str"]), "rule": {table[k]: tr(v) for k, v in s["rule"].items()},
         "step_results": [tr(x) for x in s["step_results"]]}
        for s in dataset["samples"]
    ]
    return out


def dumps(dataset: dict) -> str:
    """Serialise exactly as the published files are written."""
    return json.dumps(dataset, indent=1)
