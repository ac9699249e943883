"""What the store cannot know about a model: its display name, its organisation, its training cutoff.

`harness site --models FILE` reads a JSON object keyed by model spec (as given to `--model`):

    {"openai:gpt-4o": {"label": "GPT-4o", "organisation": "OpenAI", "training_cutoff": "2023-10"}}

Every field is optional. `training_cutoff` is `YYYY-MM` (the end of that month) or `YYYY-MM-DD`; the
contamination view compares each sample's `created_at` with it.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .store_view import SiteError

FIELDS = ("label", "organisation", "training_cutoff")


@dataclass(frozen=True)
class ModelFacts:
    label: str | None = None
    organisation: str | None = None
    training_cutoff: date | None = None


def parse_cutoff(text: str) -> date:
    """`2023-10` -> 2023-10-31 (the model may have seen all of that month); `2023-10-05` -> that day."""
    parts = text.split("-")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        year, month = int(parts[0]), int(parts[1])
        if 1 <= month <= 12:
            return date(year, month, calendar.monthrange(year, month)[1])
    return date.fromisoformat(text)


def load_model_facts(path: Path | None) -> dict[str, ModelFacts]:
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SiteError(f"cannot read the model facts file {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise SiteError(f"the model facts file {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(data, dict):
        raise SiteError(f"the model facts file {path} must be a JSON object keyed by model spec, "
                        f"e.g. {{\"openai:gpt-4o\": {{\"training_cutoff\": \"2023-10\"}}}}")
    out = {}
    for model, facts in data.items():
        where = f"the model facts file {path}, model {model!r}"
        if not isinstance(facts, dict):
            raise SiteError(f"{where}: expected an object with {', '.join(FIELDS)}, got {type(facts).__name__}")
        unknown = sorted(set(facts) - set(FIELDS))
        if unknown:
            raise SiteError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
        for name in FIELDS:
            if facts.get(name) is not None and not isinstance(facts[name], str):
                raise SiteError(f"{where}: field {name!r} must be a string, got {type(facts[name]).__name__}")
        cutoff = facts.get("training_cutoff")
        try:
            cutoff = parse_cutoff(cutoff) if cutoff else None
        except ValueError:
            raise SiteError(f"{where}: field 'training_cutoff' is {facts['training_cutoff']!r}, not a date "
                            f"(YYYY-MM or YYYY-MM-DD)") from None
        out[model] = ModelFacts(facts.get("label"), facts.get("organisation"), cutoff)
    return out
