"""Reading a model's response for each task: the answer region, then YES/NO, a line, a `value; type`, or code.

Two ways (`-T parsing=...`):

  harness   tolerant of formatting: <think> blocks dropped; the answer is the last [ANSWER]...[/ANSWER] or
            <answer>...</answer> region (or what follows an opening tag, or precedes a closing one: a prompt that
            ends with the opening tag), else the whole response; code fences and backticks are taken off. Coverage:
            the first YES or NO word of a tagged answer (the last of an untagged one), any case; neither is no
            answer (wrong). Path: a line number, `Line N`, the numbered line as shown (`17  return x`), or the
            line's code; -1. State: see state_answer.py. Output: see output_answer.py.
  official  exactly REval's post-processing (evaluation.py): a chain-of-thought response without [/THOUGHT] is
            wrong (coverage NO, path -2, state and output an error); the text after the first [ANSWER] and before
            the first [/ANSWER; coverage YES when only YES occurs in its first three characters (anything else is
            NO); path the first line, matched against the stripped lines of the program; state and output as
            REval reads them.

Nothing here evaluates the response; every function returns a value for any text.
"""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_OPEN = re.compile(r"\[ANSWER\]|<answer>", re.IGNORECASE)
_CLOSE = re.compile(r"\[/ANSWER\]?|</answer>", re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n?(.*?)```", re.DOTALL)
_WORD = re.compile(r"\b(YES|NO)\b", re.IGNORECASE)
_NUMBERED = re.compile(r"^(?:line\s*)?(-?\d+)(?:\s*[:.)|\t-]\s*|\s+|$)(.*)$", re.IGNORECASE)
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}


def region(text: str) -> tuple[str, bool]:
    """The answer part of a response (harness reading), and whether answer tags delimited it."""
    text = _THINK.sub("", text or "")
    opens, closes = list(_OPEN.finditer(text)), list(_CLOSE.finditer(text))
    if opens:
        start = opens[-1].end()
        end = next((c.start() for c in closes if c.start() >= start), len(text))
        return text[start:end].strip(), True
    if closes:
        return text[:closes[0].start()].strip(), True
    return text.strip(), False


def unfence(text: str) -> str:
    """The content of the last code fence, if there is one; outer backticks taken off."""
    blocks = _FENCE.findall(text)
    if blocks:
        text = blocks[-1]
    text = text.strip()
    if len(text) >= 2 and text.startswith("`") and text.endswith("`") and "\n" not in text:
        text = text.strip("`").strip()
    return text


def _official_region(text: str, upper: bool = False) -> str:
    ans = text.upper().strip() if upper else text
    idx = ans.find("[ANSWER]")
    if idx != -1:
        ans = ans[idx + 8:].strip()
    for closing in ("[/ANSWER]", "[/ANSWER"):
        idx = ans.find(closing)
        if idx != -1:
            ans = ans[:idx].strip()
    return ans


def _cot_unfinished(text: str, cot: bool, upper: bool = False) -> bool:
    return cot and "[/THOUGHT]" not in ((text or "").upper() if upper else (text or ""))


# -------------------------------------------------------------------------------------------------- coverage
def coverage(text: str, official: bool, cot: bool) -> str | None:
    """"YES", "NO", or None (no answer: wrong whatever the truth; REval's reading never gives None)."""
    if official:
        if _cot_unfinished(text, cot, upper=True):
            return "NO"
        ans = _official_region(text or "", upper=True)
        if not ans:
            return "NO"
        head = ans[:3]
        yes, no = "YES" in head, "NO" in head
        return "YES" if yes and not no else "NO"
    part, tagged = region(text)
    words = _WORD.findall(unfence(part) if tagged else part)
    if not words:
        return None
    return (words[0] if tagged else words[-1]).upper()


# ------------------------------------------------------------------------------------------------------ path
def path(text: str, code: str, official: bool, cot: bool) -> list[int]:
    """The line numbers (1-based) the answer names: [-1] for -1, [-2] for no line (always wrong), several where
    the answer's code occurs on several lines."""
    lines = [ln.strip() for ln in code.split("\n")]
    if official:
        if _cot_unfinished(text, cot):
            return [-2]
        ans = _official_region(text or "").split("\n")[0].strip()
        if ans == "":
            return [-2]
        if ans == "-1":
            return [-1]
        return [i + 1 for i, ln in enumerate(lines) if ln == ans] or [-2]
    part, _ = region(text)
    part = unfence(part)
    first = next((ln.strip() for ln in part.split("\n") if ln.strip()), "")
    first = first.strip("`").strip().rstrip(".") if first.count("`") >= 2 or first.endswith(".") else first
    if first in ("-1", "\u22121"):
        return [-1]
    m = _NUMBERED.match(first)
    if m:
        n, rest = int(m.group(1)), m.group(2).strip().strip("`").strip()
        if n == -1 and not rest:
            return [-1]
        if 1 <= n <= len(lines) and (not rest or rest == lines[n - 1]):
            return [n]
    code_text = first.strip("`").strip()
    found = [i + 1 for i, ln in enumerate(lines) if ln and ln == code_text]
    return found or [-2]


# ----------------------------------------------------------------------------------------------------- state
def state_text(text: str, official: bool, cot: bool) -> str | None:
    """The `value; type` (or Nil) text of a state answer; None where REval reads an error before looking at it."""
    if official:
        if _cot_unfinished(text, cot):
            return None
        text = text or ""
        for k, v in _QUOTES.items():
            text = text.replace(k, v)
        return _official_region(text.strip())
    part, _ = region(text)
    for k, v in _QUOTES.items():
        part = part.replace(k, v)
    part = unfence(part)
    lines = [ln.strip() for ln in part.split("\n") if ln.strip()]
    if not lines:
        return ""
    first = lines[0]
    if ";" in first or first.rstrip(".").capitalize() == "Nil" or len(lines) == 1:
        return first.strip("`").strip() if first.count("`") >= 2 else first
    return " ".join(lines)


# ---------------------------------------------------------------------------------------------------- output
def output_text(text: str, official: bool, cot: bool) -> str | None:
    """The completed test code; None where REval reads an error (its `assert False`)."""
    if official:
        if _cot_unfinished(text, cot):
            return None
        return _official_region(text or "")
    part, _ = region(text)
    return unfence(part)
