"""One task's verdict: every constraint answered by the checkers, the judge, or both (`-T judge=...`).

  static  the checkers alone; a constraint they cannot decide is unjudged
  llm     the judge alone, as CodeIF scores (the checkers still run, for the agreement report)
  hybrid  the checkers where they decide, the judge for the rest (the default); the judge is asked only when
          some constraint needs it, and then about all of them, so its answers can be compared with the checkers'

An unjudged constraint counts as not satisfied and is counted apart (`metrics`). The verdict's score is the
fraction of constraints satisfied; its details list each constraint's answer, who gave it, the checker's
decision and reason, and the judge's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.types import Sample, Status, Verdict

from . import judge as judge_module
from .checkers import UNDECIDED, Decision, decide
from .program import read_program
from .templates import Constraint, match_all

MODES = ("hybrid", "static", "llm")


@dataclass(frozen=True)
class ConstraintResult:
    index: int
    template: int | None
    category: str
    answer: str  # yes | no | unjudged
    by: str | None  # static | judge | None (unjudged)
    static: str  # yes | no | undecided
    reason: str
    judge: str | None  # yes | no | None (not asked, or no usable reply)

    def as_dict(self) -> dict[str, Any]:
        return {"i": self.index, "template": self.template, "category": self.category, "answer": self.answer,
                "by": self.by, "static": self.static, "reason": self.reason, "judge": self.judge}


def constraints_of(sample: Sample) -> tuple[Constraint, ...]:
    return match_all(sample.inputs["instructions"], sample.inputs["categories"])


def grade(sample: Sample, response: str, mode: str, judge, template: judge_module.JudgeTemplate) -> Verdict:
    constraints = constraints_of(sample)
    program = read_program(response, sample.inputs["language"])
    static: list[Decision] = [decide(c, program) for c in constraints]
    needs_judge = mode == "llm" or (mode == "hybrid" and any(d.answer == UNDECIDED for d in static))
    judged: tuple[bool, ...] | None = None
    judge_info: dict[str, Any] = {"asked": False}
    if needs_judge and judge is not None:
        prompt = judge_module.render(template, sample.inputs["question"], list(sample.inputs["instructions"]),
                                     response)
        outcome = judge_module.ask(judge, prompt, len(constraints))
        if outcome.infra is not None:
            return Verdict(Status.INFRA, 0.0, {"reason": f"the judge did not answer: {outcome.infra}"})
        judged = outcome.values
        judge_info = {"asked": True, "tries": outcome.tries, "problem": outcome.problem,
                      "reply": outcome.reply if outcome.values is None else None}
    elif needs_judge:
        judge_info = {"asked": False, "problem": "no judge model given (--judge-model)"}
    results = []
    for c, d in zip(constraints, static):
        j = None if judged is None else ("yes" if judged[c.index] else "no")
        if mode == "llm":
            answer, by = (j, "judge") if j else ("unjudged", None)
        elif d.answer != UNDECIDED:
            answer, by = d.answer, "static"
        elif mode == "hybrid" and j:
            answer, by = j, "judge"
        else:
            answer, by = "unjudged", None
        results.append(ConstraintResult(c.index, c.template, c.category, answer, by, d.answer, d.reason, j))
    satisfied = sum(r.answer == "yes" for r in results)
    score = satisfied / len(results) if results else 0.0
    status = Status.PASS if results and satisfied == len(results) else Status.FAIL
    details = {
        "mode": mode,
        "language": sample.inputs["language"],
        "constraints": [r.as_dict() for r in results],
        "dependence": sample.inputs["dependence"],
        "satisfied": satisfied,
        "unjudged": sum(r.answer == "unjudged" for r in results),
        "judge": judge_info,
        "parse_errors": program.facts.errors if program.facts is not None else [],
    }
    return Verdict(status, score, details)
