"""Reading the site's pages back as a person's browser would: tables (headers, cells with their text, interval,
rank badge and link), links, and element ids. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


@dataclass
class Cell:
    text: str = ""
    sub: str = ""
    badge: str = ""
    href: str | None = None


@dataclass
class Table:
    id: str
    caption: str = ""
    headers: list[str] = field(default_factory=list)
    aria_sort: list[str | None] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    downloads: dict[str, str] = field(default_factory=dict)

    def column(self, header: str) -> list[Cell]:
        i = self.headers.index(header)
        return [row[i] for row in self.rows]

    def row(self, first_cell: str) -> dict[str, Cell]:
        for row in self.rows:
            if row[0].text == first_cell:
                return dict(zip(self.headers, row))
        raise KeyError(f"table {self.id}: no row {first_cell!r}; rows: {[r[0].text for r in self.rows]}")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, Table] = {}
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []
        self._table: Table | None = None
        self._section = ""
        self._cell: Cell | None = None
        self._span: list[str] = []
        self._caption = False
        self._pending_downloads: dict[str, str] = {}
        self._in_downloads = False
        self._download_text = ""
        self._download_href = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "script":
            self.scripts.append(a.get("src") or "")
        if tag == "span" and a.get("class") == "downloads":
            self._in_downloads = True
            self._pending_downloads = {}
        if tag == "a" and self._in_downloads:
            self._download_href = a.get("href", "")
            self._download_text = ""
        if tag == "table" and a.get("id"):
            self._table = Table(a["id"], downloads=self._pending_downloads)
            self._pending_downloads = {}
            self.tables[a["id"]] = self._table
        elif self._table is None:
            return
        if tag == "caption":
            self._caption = True
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr" and self._section == "tbody":
            self._table.rows.append([])
        elif tag in ("th", "td"):
            self._cell = Cell()
            if self._section == "thead":
                self._table.aria_sort.append(a.get("aria-sort"))
        elif tag == "span" and self._cell is not None:
            self._span.append(a.get("class") or "")
        elif tag == "a" and self._cell is not None:
            self._cell.href = a.get("href")

    def handle_endtag(self, tag):
        if tag == "span":
            if self._in_downloads and not self._span:
                self._in_downloads = False
            elif self._span:
                self._span.pop()
        if tag == "a" and self._in_downloads:
            self._pending_downloads[self._download_text.strip()] = self._download_href
        if self._table is None:
            return
        if tag == "caption":
            self._caption = False
        elif tag in ("th", "td") and self._cell is not None:
            cell = Cell(self._cell.text.strip(), self._cell.sub.strip(), self._cell.badge.strip(), self._cell.href)
            if self._section == "thead":
                self._table.headers.append(cell.text)
            else:
                self._table.rows[-1].append(cell)
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._in_downloads and not self._span:
            self._download_text += data
        if self._table is None:
            return
        if self._caption:
            self._table.caption += data
        elif self._cell is not None:
            kind = self._span[-1] if self._span else ""
            if kind == "sub":
                self._cell.sub += data
            elif kind == "badge":
                self._cell.badge += data
            elif kind != "arrow":
                self._cell.text += data


@dataclass
class Page:
    path: Path
    html: str
    tables: dict[str, Table]
    links: list[str]
    ids: set[str]
    scripts: list[str]


def read_page(path: Path) -> Page:
    html = path.read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(html)
    return Page(path, html, parser.tables, parser.links, parser.ids, parser.scripts)
