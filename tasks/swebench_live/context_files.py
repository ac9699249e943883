"""The files the gold patch touches, as they are at base_commit: what the non-agentic prompt shows the model.

They are read without running anything of the instance's: from its recipe's source (a clone: `git show
base_commit:path`; a tarball: its member; a plain tree: the file), else from its image (`docker create`, then
`get_archive` of /testbed/<path>, then the container removed; it never starts). A file that cannot be read
(no recipe and no image here, not in the source, binary, a link) is named in the prompt with the reason, and
logged, instead of failing the run. Files the gold patch creates are not shown (they do not exist yet).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.sandbox.errors import ImageBuildError

from .data import Instance
from .images import source_kind
from .patches import inside_repo, touched_files

MAX_FILE_BYTES = 256 << 10  # a file over this is shown up to it, and said to be cut
MAX_ARCHIVE_BYTES = 16 << 20  # one over this is not read at all


@dataclass(frozen=True)
class ContextFile:
    path: str
    text: str | None  # None: could not be read (see note)
    note: str = ""  # why it is missing, or that it was cut


def files_to_show(inst: Instance) -> list[str]:
    """The paths the gold patch changes or deletes (its files as they were before it)."""
    before, _after = touched_files(inst.patch)
    return before


def gather(inst: Instance, *, recipe: Any = None, image: str | None = None,
           log: Callable[[str], None] = lambda msg: None) -> list[ContextFile]:
    """The files of `files_to_show(inst)`, read from the recipe's source when there is a recipe, else from the
    local image `image`, else none (each named with the reason)."""
    paths = files_to_show(inst)
    if not paths:
        return []
    read, where, why = None, "", "no recipe and no image of this instance here to read it from"
    try:
        if recipe is not None:
            read, where = _from_source(recipe), f"the recipe's source {recipe.source}"
        elif image is not None:
            read, where = _ImageReader(image), f"image {image}"
    except _Missing as exc:
        why = str(exc)
    except Exception as exc:  # noqa: BLE001 - an engine that does not answer: the files are named, not fatal
        why = f"could not open {where or image}: {type(exc).__name__}: {exc}"
    out = []
    for path in paths:
        if not inside_repo(path):
            out.append(ContextFile(path, None, "not a path inside the repository"))
            continue
        if read is None:
            out.append(ContextFile(path, None, why))
            continue
        try:
            data = read(path)
        except _Missing as exc:
            out.append(ContextFile(path, None, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - a broken source or engine: named, not fatal
            out.append(ContextFile(path, None, f"could not be read from {where}: {type(exc).__name__}: {exc}"))
            continue
        out.append(_decoded(path, data))
    if hasattr(read, "close"):
        read.close()
    for f in out:
        if f.text is None:
            log(f"swebench-live: {inst.instance_id}: {f.path} is not shown in the prompt: {f.note}")
    return out


class _Missing(Exception):
    """A file the source or image does not have as a regular file; the message says why."""


def _decoded(path: str, data: bytes) -> ContextFile:
    if b"\0" in data[:8192]:
        return ContextFile(path, None, "a binary file")
    note = ""
    if len(data) > MAX_FILE_BYTES:
        data = data[:MAX_FILE_BYTES]
        data = data[:data.rfind(b"\n") + 1] or data
        note = f"cut at {MAX_FILE_BYTES >> 10} KiB"
    return ContextFile(path, data.decode("utf-8", "replace"), note)


# ------------------------------------------------------------------------------------------------ sources
def _from_source(recipe: Any) -> Callable[[str], bytes]:
    """A reader of the source as the image build takes it (images.source_kind)."""
    source = Path(recipe.source)
    try:
        kind = source_kind(source)
    except ImageBuildError as exc:
        raise _Missing(f"the recipe's {exc}") from None
    if kind == "clone":
        return _GitReader(source, recipe.base_commit)
    if kind == "tree":
        return _TreeReader(source)
    return _TarReader(source)


class _GitReader:
    def __init__(self, repo: Path, commit: str):
        self.repo, self.commit = repo, commit

    def __call__(self, path: str) -> bytes:
        r = subprocess.run(["git", "-C", str(self.repo), "cat-file", "-t", f"{self.commit}:{path}"],
                           capture_output=True, text=True)
        if r.returncode != 0 or r.stdout.strip() != "blob":
            raise _Missing(f"not a file at {self.commit[:12]} in {self.repo}")
        r2 = subprocess.run(["git", "-C", str(self.repo), "cat-file", "blob", f"{self.commit}:{path}"],
                            capture_output=True)
        if r2.returncode != 0:
            raise _Missing(f"git cat-file failed in {self.repo}: {r2.stderr.decode(errors='replace')[-200:]}")
        return r2.stdout


class _TreeReader:
    def __init__(self, root: Path):
        self.root = root

    def __call__(self, path: str) -> bytes:
        target = self.root / path
        # a link anywhere on the way (`docs -> /etc`) could show a file of the host in the prompt
        if target.is_symlink() or not target.is_file() or not target.resolve().is_relative_to(self.root.resolve()):
            raise _Missing(f"not a regular file in {self.root}")
        return target.read_bytes()


class _TarReader:
    """Members of a tarball (`git archive`, with or without one top-level folder)."""

    def __init__(self, path: Path):
        self.tar = tarfile.open(path, "r:*")
        names = self.tar.getnames()
        tops = {n.split("/", 1)[0] for n in names if n}
        self.prefix = ""
        if len(tops) == 1 and all("/" in n or n in tops for n in names):
            top = next(iter(tops))
            if self.tar.getmember(top).isdir() if top in names else True:
                self.prefix = top + "/"
        self.where = path

    def __call__(self, path: str) -> bytes:
        try:
            member = self.tar.getmember(self.prefix + path)
        except KeyError:
            raise _Missing(f"not in the tarball {self.where}") from None
        if not member.isfile():
            raise _Missing(f"not a regular file in the tarball {self.where}")
        fh = self.tar.extractfile(member)
        assert fh is not None
        return fh.read()

    def close(self) -> None:
        self.tar.close()


class _ImageReader:
    """Files of /testbed in an image, from a container that is created but never started."""

    def __init__(self, image: str):
        from harness.sandbox.engine import docker_client, owner_labels

        self.client = docker_client()
        self.container = self.client.containers.create(image, ["true"], network_disabled=True,
                                                       labels=owner_labels("swe-context"))

    def __call__(self, path: str) -> bytes:
        import docker.errors

        try:
            stream, stat = self.container.get_archive(f"/testbed/{path}")
        except docker.errors.NotFound:
            raise _Missing("not in the image's /testbed") from None
        if stat.get("size", 0) > MAX_ARCHIVE_BYTES:
            raise _Missing(f"a file of {stat['size'] >> 20} MiB, too large to show")
        raw = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                raise _Missing("not a regular file in the image's /testbed")
            fh = tar.extractfile(member)
            assert fh is not None
            return fh.read()

    def close(self) -> None:
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


def render_files(files: Sequence[ContextFile]) -> list[dict[str, Any]]:
    """Template values: each file's path, its text with line numbers (`   12 | code`), and its note."""
    out = []
    for f in files:
        numbered = None
        if f.text is not None:
            lines = f.text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            width = len(str(len(lines)))
            numbered = "\n".join(f"{i:>{width}} | {line}" for i, line in enumerate(lines, 1))
        out.append({"path": f.path, "text": f.text, "numbered": numbered, "note": f.note})
    return out
