"""The output folder, written incrementally.

A manifest in the folder (`.harness-site.json`) holds a fingerprint of every file the last build wrote. A file
whose fingerprint is unchanged (and which is still there) is not written again; a page whose inputs are
fingerprinted before it is rendered (a per-sample page; a run's pages with their downloads, as a group) is not
even rendered. Files of the last build that
this build did not produce are removed; nothing the manifest does not list is ever touched, and a folder that is
not empty and has no manifest is refused (it is somebody else's).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .store_view import SiteError

MANIFEST = ".harness-site.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class OutputStats:
    files: int  # files the site has
    written: int  # written by this build
    unchanged: int  # left as they were
    removed: int  # left over from the last build and removed
    bytes: int  # size of every file of the site


def write_file(root: Path, rel: str, data: bytes, make_folder: bool = True) -> int:
    path = root / rel
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


class SiteOutput:
    def __init__(self, root: Path, rebuild: bool = False):
        self.root = Path(root)
        manifest = self.root / MANIFEST
        if self.root.exists() and not self.root.is_dir():
            raise SiteError(f"--out {self.root} is a file; give a folder")
        if self.root.is_dir() and any(self.root.iterdir()) and not manifest.is_file():
            raise SiteError(f"--out {self.root} is not empty and was not built by `harness site`; give an empty or "
                            f"new folder (the site never overwrites files it did not write)")
        self.previous: dict[str, list] = {}
        self.previous_groups: dict[str, list] = {}
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
                if data.get("version") == MANIFEST_VERSION:
                    self.previous = {k: v for k, v in data.get("files", {}).items() if isinstance(v, list)}
                    self.previous_groups = {k: v for k, v in data.get("groups", {}).items() if isinstance(v, list)}
            except (OSError, json.JSONDecodeError, AttributeError):
                self.previous, self.previous_groups = {}, {}  # a damaged manifest: everything is written again
        self.rebuild = rebuild
        self.current: dict[str, list] = {}  # path -> [fingerprint, size]
        self.groups: dict[str, list] = {}  # group -> [fingerprint, [paths]]
        self.written = 0
        self.root.mkdir(parents=True, exist_ok=True)

    def unchanged(self, rel: str, fingerprint: str) -> bool:
        """Whether the file at `rel` was written from these very inputs and is still there; if so it is kept."""
        old = self.previous.get(rel)
        if self.rebuild or old is None or old[0] != fingerprint or not (self.root / rel).is_file():
            return False
        self.current[rel] = old
        return True

    def unchanged_group(self, key: str, fingerprint: str) -> bool:
        """Whether the files of a group (pages made together) were written from these very inputs and are all
        still there; if so they are kept."""
        old = self.previous_groups.get(key)
        if self.rebuild or old is None or old[0] != fingerprint:
            return False
        files = old[1]
        if not all(rel in self.previous and (self.root / rel).is_file() for rel in files):
            return False
        for rel in files:
            self.current[rel] = self.previous[rel]
        self.groups[key] = old
        return True

    def record_group(self, key: str, fingerprint: str, files: list[str]) -> None:
        self.groups[key] = [fingerprint, sorted(files)]

    def record_written(self, rel: str, fingerprint: str, size: int) -> None:
        """A file that a worker process wrote (with `write_file`) for this build."""
        if rel in self.current:
            raise SiteError(f"internal: the site file {rel} was produced twice in one build")
        self.current[rel] = [fingerprint, size]
        self.written += 1

    def folders_with_files(self, under: str) -> set[str]:
        """The folders directly under `under` (e.g. `samples`) that held files of the last build."""
        prefix = under.rstrip("/") + "/"
        return {rel[len(prefix):].split("/", 1)[0] for rel in self.previous if rel.startswith(prefix)}

    def write(self, rel: str, content: str | bytes, fingerprint: str | None = None) -> None:
        """Write a file of the site, unless the same content (or inputs, given a fingerprint) is already there."""
        if rel in self.current:
            raise SiteError(f"internal: the site file {rel} was produced twice in one build")
        data = content.encode("utf-8") if isinstance(content, str) else content
        fingerprint = fingerprint or hashlib.sha256(data).hexdigest()
        if self.unchanged(rel, fingerprint):
            return
        write_file(self.root, rel, data)
        self.current[rel] = [fingerprint, len(data)]
        self.written += 1

    def finish(self) -> OutputStats:
        """Remove what the last build wrote and this one did not, and save the manifest."""
        removed = 0
        root = self.root.resolve()
        for rel in sorted(set(self.previous) - set(self.current)):
            path = self.root / rel
            if root not in path.resolve().parents:
                continue  # a manifest entry outside the folder (a damaged or edited manifest): never touched
            if path.is_file():
                path.unlink()
                removed += 1
            parent = path.parent
            while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        tmp = self.root / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps({"version": MANIFEST_VERSION, "files": self.current, "groups": self.groups},
                                  separators=(",", ":")),
                       encoding="utf-8")
        os.replace(tmp, self.root / MANIFEST)
        size = sum(v[1] for v in self.current.values())
        return OutputStats(len(self.current), self.written, len(self.current) - self.written, removed, size)
