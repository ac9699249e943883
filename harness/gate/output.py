"""What the gate prints and writes: plain text, Markdown (the CI job summary), JUnit XML (one test case per task
and metric, the evidence in the failure message) and JSON. Lists of sample ids are capped, so a summary stays far
below GitHub's 1 MiB limit whatever the benchmark's size."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

from .compare import LISTED, Comparison, GateResult, Outcome, Settings, format_p

WORDS = {Outcome.PASS: "PASS", Outcome.REGRESSION: "REGRESSION", Outcome.INCONCLUSIVE: "INCONCLUSIVE"}
PAST = {Outcome.PASS: "passed", Outcome.REGRESSION: "regressed", Outcome.INCONCLUSIVE: "inconclusive"}
MARKS = {Outcome.PASS: "✅ pass", Outcome.REGRESSION: "❌ regression", Outcome.INCONCLUSIVE: "⚠️ inconclusive"}


def _num(x: float) -> str:
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    return f"{x:.4g}"


def _signed(x: float) -> str:
    return "n/a" if math.isnan(x) else "+0" if x == 0 else f"{x:+.4g}"


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:LISTED])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > LISTED else "")


def headline(result: GateResult, exit_code: int) -> str:
    s, m = result.settings, len(result.comparisons)
    counts = {o: sum(c.outcome is o for c in result.comparisons) for o in Outcome}
    parts = ", ".join(f"{n} {PAST[o]}" for o, n in counts.items() if n)
    return (f"gate: {WORDS[result.outcome]} (exit {exit_code}): {parts}; alpha {s.alpha:g} one-sided"
            + (f", Holm over {m} comparisons" if m > 1 else "") + f", minimum effect {s.min_effect:g}")


def evidence_lines(c: Comparison, settings: Settings) -> list[str]:
    """The evidence of one comparison, a fact a line (the text output, the JUnit message, the Markdown details)."""
    e, p = c.evidence, c.paired
    units = f"{e.units} clusters of {c.cluster_key!r}" if c.cluster_key else f"{e.units} samples"
    lines = [
        f"baseline   {_num(e.baseline_mean)}  {c.baseline.name} ({c.baseline.model}; {c.baseline.status}; "
        f"{c.baseline.source})",
        f"candidate  {_num(e.candidate_mean)}  {c.candidate.name} ({c.candidate.model}; {c.candidate.status}; "
        f"{c.candidate.source})",
        f"difference {_signed(e.difference)} [{_signed(e.interval[0])}, {_signed(e.interval[1])}] "
        f"({e.confidence:.0%} paired bootstrap over {units}); {e.worse} samples fell, {e.better} rose",
    ]
    test = f"test       {e.test}, one-sided p = {format_p(e.p_value)}"
    if e.p_exact is not None:
        test += f" (exact {format_p(e.p_exact)})"
    test += f", after Holm {format_p(c.p_holm)}; for a rise {format_p(e.p_better)}"
    if e.discordant:
        test += f"; discordant pairs: {e.discordant[0]} passed only in the baseline, {e.discordant[1]} only in " \
                f"the candidate"
    lines.append(test)
    can = "no drop at all" if math.isinf(e.mde) else f"drops of {_num(e.mde)} or more"
    lines.append(f"power      detects {can} with power {settings.power:.0%}; standard error {_num(e.standard_error)}, "
                 f"{e.n} paired samples" + (f", effective {e.effective_n:.0f}" if c.cluster_key else ""))
    ib, ic = c.infra_baseline, c.infra_candidate
    if ib.infra or ic.infra:
        lines.append(f"infra      {ib.infra} of {ib.attempts} baseline attempts, {ic.infra} of {ic.attempts} candidate "
                     f"attempts (left out; limit {settings.max_infra:.0%})")
    for what, (old, new) in c.changes.items():
        lines.append(f"changed    {what}: {old} -> {new}")
    if e.worst:
        lines.append("fell most  " + ", ".join(f"{sid} ({_signed(d)})" for sid, d in e.worst))
    for what, ids in (("only in the baseline", p.only_in_baseline), ("only in the candidate", p.only_in_candidate),
                      ("not graded in the baseline", p.ungraded_in_baseline),
                      ("not graded in the candidate", p.ungraded_in_candidate),
                      ("changed content (left out)", p.changed)):
        if ids:
            lines.append(f"unpaired   {len(ids)} {what}: {_ids(ids)}")
    return lines


def not_gated(result: GateResult) -> list[str]:
    if not result.not_gated:
        return []
    return [f"not gated: the baseline of {', '.join(result.not_gated)} (no candidate run of that task and split)"]


def as_text(result: GateResult, exit_code: int) -> str:
    out = [headline(result, exit_code), *not_gated(result)]
    for c in result.comparisons:
        out.append(f"\n{c.task} {c.metric}: {WORDS[c.outcome]}: {c.reason}")
        out += [f"  {line}" for line in evidence_lines(c, result.settings)]
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(result: GateResult, exit_code: int) -> str:
    s = result.settings
    conf = f"{1 - 2 * s.alpha:.0%}"
    out = [f"### Evaluation gate: {MARKS[result.outcome]}", "",
           _cell(headline(result, exit_code)), "", *[f"{_cell(line)}\n" for line in not_gated(result)],
           f"| task | metric | baseline | candidate | difference [{conf}] | p (Holm) | detects drops of | paired "
           f"| outcome |", "|---|---|--:|--:|--:|--:|--:|--:|---|"]
    for c in result.comparisons:
        e = c.evidence
        out.append("| " + " | ".join(_cell(x) for x in (
            c.task, c.metric, _num(e.baseline_mean), _num(e.candidate_mean),
            f"{_signed(e.difference)} [{_signed(e.interval[0])}, {_signed(e.interval[1])}]",
            format_p(c.p_holm), _num(e.mde), str(e.n), MARKS[c.outcome])) + " |")
    for c in result.comparisons:
        out += ["", f"<details><summary>{_cell(c.task)} {_cell(c.metric)}: {WORDS[c.outcome]}: "
                    f"{_cell(c.reason)}</summary>", "", "```text", *evidence_lines(c, s), "```", "", "</details>"]
    return "\n".join(out) + "\n"


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text XML 1.0 can hold: a control character in a sample id or a model name would make the file unreadable."""
    return _NOT_XML.sub("\ufffd", text)


def as_junit(result: GateResult, exit_code: int) -> str:
    """One <testcase> per task and metric (classname = task, name = metric): a regression is a <failure>, an
    inconclusive comparison is <skipped>, with the evidence in the message and the numbers as properties."""
    cases = result.comparisons
    failures = sum(c.outcome is Outcome.REGRESSION for c in cases)
    skipped = sum(c.outcome is Outcome.INCONCLUSIVE for c in cases)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "harness gate", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "harness gate", **counts, "time": "0"})
    props = ET.SubElement(suite, "properties")
    for k, v in (("alpha", result.settings.alpha), ("min_effect", result.settings.min_effect),
                 ("outcome", result.outcome.value), ("exit_code", exit_code)):
        ET.SubElement(props, "property", {"name": k, "value": str(v)})
    for c in cases:
        e = c.evidence
        case = ET.SubElement(suite, "testcase", {"classname": _xml(c.task), "name": c.metric, "time": "0"})
        cprops = ET.SubElement(case, "properties")
        for k, v in (("baseline", e.baseline_mean), ("candidate", e.candidate_mean), ("difference", e.difference),
                     ("interval_low", e.interval[0]), ("interval_high", e.interval[1]), ("p_value", e.p_value),
                     ("p_holm", c.p_holm), ("p_better", e.p_better), ("mde", e.mde), ("paired_samples", e.n),
                     ("units", e.units), ("effective_n", round(e.effective_n, 1)), ("test", e.test)):
            ET.SubElement(cprops, "property", {"name": k, "value": _xml(str(v))})
        evidence = _xml("\n".join(evidence_lines(c, result.settings)))
        message = _xml(f"{WORDS[c.outcome]}: {c.reason}")
        if c.outcome is Outcome.REGRESSION:
            ET.SubElement(case, "failure", {"message": message, "type": "regression"}).text = evidence
            continue
        if c.outcome is Outcome.INCONCLUSIVE:
            ET.SubElement(case, "skipped", {"message": message})
        ET.SubElement(case, "system-out").text = f"{message}\n{evidence}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def as_dict(result: GateResult, exit_code: int) -> dict[str, Any]:
    s = result.settings
    comparisons = []
    for c in result.comparisons:
        e, p = c.evidence, c.paired
        comparisons.append({
            "task": c.task, "metric": c.metric, "outcome": c.outcome.value, "reason": c.reason,
            "baseline": {"run": c.baseline.name, "source": c.baseline.source, "model": c.baseline.model,
                         "value": e.baseline_mean, "status": c.baseline.status},
            "candidate": {"run": c.candidate.name, "source": c.candidate.source, "model": c.candidate.model,
                          "value": e.candidate_mean, "status": c.candidate.status},
            "difference": e.difference, "interval": list(e.interval), "confidence": e.confidence,
            "test": e.test, "p_value": e.p_value, "p_better": e.p_better, "p_exact": e.p_exact, "p_holm": c.p_holm,
            "discordant": list(e.discordant) if e.discordant else None, "worse": e.worse, "better": e.better,
            "standard_error": e.standard_error, "mde": e.mde, "power": s.power,
            "paired_samples": e.n, "units": e.units, "cluster_key": c.cluster_key, "effective_n": e.effective_n,
            "infra": {"baseline": [c.infra_baseline.infra, c.infra_baseline.attempts],
                      "candidate": [c.infra_candidate.infra, c.infra_candidate.attempts]},
            "changes": {k: list(v) for k, v in c.changes.items()},
            "fell_most": [list(x) for x in e.worst],
            "unpaired": {"only_in_baseline": p.only_in_baseline, "only_in_candidate": p.only_in_candidate,
                         "not_graded_in_baseline": p.ungraded_in_baseline,
                         "not_graded_in_candidate": p.ungraded_in_candidate, "changed": p.changed},
        })
    return {"outcome": result.outcome.value, "exit_code": exit_code, "alpha": s.alpha, "min_effect": s.min_effect,
            "max_infra": s.max_infra, "comparisons": comparisons, "not_gated": result.not_gated}


def _finite(value: Any) -> Any:
    """JSON has no infinity: an unbounded MDE (or any non-finite number) is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def as_json(result: GateResult, exit_code: int) -> str:
    return json.dumps(_finite(as_dict(result, exit_code)), indent=2, ensure_ascii=False, default=str)
