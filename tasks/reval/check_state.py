"""Runs in the sandbox: read a state answer that needs evaluating (an expression, a type to locate).

    python3 check_state.py   (job.json beside it: {"answer": the `value; type` text, "harness": bool})

Prints `@@reval-state <json>`: {"kind": "nil"|"value"|"error", "value": tree, "type": tree, "why": text}. The
answer's text is evaluated here with eval (compiled with dont_inherit=True, in a fresh namespace holding numpy and
datetime as REval's checker has them) and pydoc.locate; the harness compares the result with the traced values.
This process holds no expected value and no nonce: whatever the answer makes it print is only the answer's value.
"""

import datetime
import json
import pydoc
import sys

from state_answer import Evaluator, read
from values import encode

MARKER = "@@reval-state "


def evaluate(text):
    import numpy

    namespace = {"np": numpy, "numpy": numpy, "datetime": datetime.datetime, "__builtins__": __builtins__}
    return eval(compile(text, "<answer>", "eval", dont_inherit=True), namespace)  # noqa: S307 - in the sandbox


def main() -> None:
    with open("job.json", encoding="utf-8") as fh:
        job = json.load(fh)
    reading = read(job["answer"], Evaluator(evaluate, pydoc.locate), bool(job.get("harness")))
    out = {"kind": reading.kind, "why": reading.why}
    if reading.kind == "value":
        out["value"] = encode(reading.value)
        out["type"] = encode(reading.type)
    sys.stdout.write(MARKER + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
