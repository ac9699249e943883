"""A table as the pages show it: columns, rows of cells (text, a sort value, a link, an interval), a caption, and
the data behind it (a pandas DataFrame) that is offered beside it as CSV and JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from markupsafe import Markup, escape


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = False


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | str | None = None  # what the column sorts by (None: the text; NaN and None sort last)
    href: str | None = None  # relative to the site's root
    sub: str | None = None  # a second, smaller line: an interval, a note
    badge: str | None = None  # a short marker shown before the text (a rank)


@dataclass
class Table:
    id: str  # unique in its page; also the name of its downloads
    caption: str
    columns: list[Column]
    rows: list[list[Cell]]
    data: pd.DataFrame | None = None  # offered as CSV and JSON beside the table
    note: str | None = None
    downloads: dict[str, str] = field(default_factory=dict)  # format -> href relative to the site's root

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.id!r}, row {i}: {len(row)} cells for {len(self.columns)} columns")


def body_html(table: Table, root: str) -> Markup:
    """The table's rows as HTML (written here rather than in a template macro: a run's sample table has a thousand
    rows, and this is several times faster). The first cell of a row is its header; every text is escaped."""
    numeric = [c.numeric for c in table.columns]
    root = str(escape(root))
    out = []
    for row in table.rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            tag = "th" if i == 0 else "td"
            attrs = ' scope="row"' if i == 0 else ""
            if numeric[i]:
                attrs += ' class="num"'
            if cell.sort is not None:
                attrs += f' data-sort="{_e(cell.sort)}"'
            inner = f'<span class="badge" title="rank">{_e(cell.badge)}</span> ' if cell.badge else ""
            inner += f'<a href="{root}{_e(cell.href)}">{_e(cell.text)}</a>' if cell.href else _e(cell.text)
            if cell.sub:
                inner += f'<span class="sub">{_e(cell.sub)}</span>'
            out.append(f"<{tag}{attrs}>{inner}</{tag}>")
        out.append("</tr>\n")
    return Markup("".join(out))


def _e(value: Any) -> str:
    """Escaped text, as a plain str (so that joining it with markup never escapes the markup again)."""
    return str(escape(value))


def fmt(value: Any) -> str:
    """A number as a person reads it: n/a for a missing one, integers plain, 4 significant digits below 1, else
    2 decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) < 1e-12:
            return "0"
        if value.is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def interval_text(interval: tuple[float, float] | None) -> str | None:
    return f"[{fmt(interval[0])}, {fmt(interval[1])}]" if interval else None


def number_cell(value: Any, interval: tuple[float, float] | None = None, href: str | None = None,
                badge: str | None = None) -> Cell:
    sort = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return Cell(fmt(value), sort=sort, href=href, sub=interval_text(interval), badge=badge)


def text_cell(text: Any, href: str | None = None, sub: str | None = None) -> Cell:
    return Cell("" if text is None else str(text), href=href, sub=sub)


def downloads_for(table: Table, stem: str) -> dict[str, bytes]:
    """The table's data as CSV and JSON files (path relative to the site's root -> bytes); sets its links."""
    if table.data is None:
        return {}
    base = f"data/{stem}-{table.id}"
    files = {f"{base}.csv": table.data.to_csv(index=False).encode("utf-8"),
             f"{base}.json": table.data.to_json(orient="records", indent=1, force_ascii=False).encode("utf-8")}
    table.downloads = {"CSV": f"{base}.csv", "JSON": f"{base}.json"}
    return files
