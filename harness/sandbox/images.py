"""Sandbox images: built from the recipes in sandboxes/<name>/, tagged by a hash of the recipe.

A recipe folder holds `packages.txt` (Debian bookworm packages of the base), a `Dockerfile` that starts
`ARG BASE` / `FROM ${BASE}` and adds our files, and those files.  Files that several recipes use (the runner)
live once in sandboxes/common/; a recipe names the ones it wants in `common.txt`, and its build context is its
own folder plus those.  Two images come out of it:

  harness-base-<name>:<hash of packages.txt>   Debian + the packages.  Pulled from a registry
                                               (debian:bookworm-slim + apt-get) where one answers, else
                                               bootstrapped offline-from-a-mirror: mmdebstrap | docker import.
  harness-<name>:<hash of the build context>  the Dockerfile on top of the base (no network needed).

An image is rebuilt only when its recipe changes (a new hash, so a new tag); the image id is what a run
records for reproducibility.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..paths import builtin_dir
from .engine import docker_client
from .errors import ImageBuildError

SUITE = "bookworm"
PULL_BASE = "debian:bookworm-slim"
LABEL_RECIPE = "harness.recipe"
LABEL_RECIPE_HASH = "harness.recipe.hash"
INSTANCE_RECIPE = "swe-instance"  # the recipe label of per-instance images, which `prune --all` alone removes
BUILDER_VERSION = "1"  # bump to force a rebuild of every image when the build procedure changes
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

Log = Callable[[str], None]


def _stderr_log(msg: str) -> None:
    import sys

    print(f"[images] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ImageInfo:
    name: str  # recipe name, e.g. "python"
    tag: str  # e.g. "harness-python:0123456789ab"
    id: str  # the image id (sha256:...): record it with every run
    recipe_hash: str
    built_now: bool = False
    build_s: float = 0.0


@dataclass(frozen=True)
class ImageRow:
    tag: str
    id: str
    recipe: str
    recipe_hash: str
    size_mb: float
    created: str
    current: bool  # built from the recipe as it is now


# ------------------------------------------------------------------------------------------- recipes
def recipes_root() -> Path:
    """sandboxes/ of the source tree, or the copy packaged inside the wheel."""
    try:
        return builtin_dir("sandboxes")
    except FileNotFoundError as exc:
        raise ImageBuildError(str(exc)) from exc


def recipe_dir(name: str) -> Path:
    d = recipes_root() / name
    if not (d / "Dockerfile").is_file() or not (d / "packages.txt").is_file():
        available = sorted(p.name for p in recipes_root().iterdir() if (p / "Dockerfile").is_file())
        raise ImageBuildError(f"no image recipe {name!r} (expected {d}/Dockerfile and packages.txt); "
                              f"recipes: {available}")
    return d


def recipe_names() -> list[str]:
    root = recipes_root()
    return sorted(p.name for p in root.iterdir() if (p / "Dockerfile").is_file() and (p / "packages.txt").is_file())


def _listed(path: Path) -> list[str]:
    """The entries of a list file: one a line, `#` comments and blank lines ignored."""
    lines = path.read_text().splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def packages(name: str) -> list[str]:
    return _listed(recipe_dir(name) / "packages.txt")


def context_files(name: str) -> dict[str, Path]:
    """The files of recipe `name`'s build context, by their path in it: the recipe folder's own, and the files
    of sandboxes/common/ that its `common.txt` names (at the top of the context, under their own names)."""
    d = recipe_dir(name)
    files = {str(f.relative_to(d)): f for f in d.rglob("*") if f.is_file() and "__pycache__" not in f.parts}
    listed = d / "common.txt"
    for entry in _listed(listed) if listed.is_file() else []:
        where = f"{listed}: {entry!r}"
        if entry.startswith("/") or ".." in entry.split("/"):
            raise ImageBuildError(f"{where}: name a file of {common_dir()} by its path inside it")
        shared = common_dir() / entry
        if not shared.is_file():
            have = sorted(str(p.relative_to(common_dir())) for p in common_dir().rglob("*") if p.is_file()) \
                if common_dir().is_dir() else []
            raise ImageBuildError(f"{where}: no such shared file {shared}; shared files: {have}")
        if entry in files:
            raise ImageBuildError(f"{where}: the recipe has a file {d / entry} of its own; remove one of the two")
        files[entry] = shared
    return files


def common_dir() -> Path:
    """sandboxes/common/: files that several recipes copy into their images (see `context_files`)."""
    return recipes_root() / "common"


def _hash(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()[:12]


def base_hash(name: str) -> str:
    return _hash(BUILDER_VERSION.encode(), SUITE.encode(), "\n".join(packages(name)).encode())


def recipe_hash(name: str) -> str:
    """A hash of everything the image is built from: the base's packages and every file of the build context,
    the shared ones included (an edit to sandboxes/common/runner.py rebuilds every image that copies it)."""
    parts = [BUILDER_VERSION.encode(), base_hash(name).encode()]
    for rel, f in sorted(context_files(name).items()):
        parts += [rel.encode(), f.read_bytes()]
    return _hash(*parts)


def base_tag(name: str) -> str:
    return f"harness-base-{name}:{base_hash(name)}"


def image_tag(name: str) -> str:
    return f"harness-{name}:{recipe_hash(name)}"


# ---------------------------------------------------------------------------------------------- build
def _find_image(client: Any, tag: str) -> Any | None:
    import docker.errors

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def image_id(tag: str) -> str | None:
    """The id (content digest) of a local image, or None where it is not built or no engine answers."""
    from .errors import SandboxError

    try:
        image = _find_image(docker_client(), tag)
    except SandboxError:
        return None
    return image.id if image is not None else None


class _BuildLock:
    """One build per recipe at a time on this machine (parallel test workers, two harness runs)."""

    def __init__(self, name: str):
        self.path = Path(tempfile.gettempdir()) / f"harness-image-{name}.lock"

    def __enter__(self) -> "_BuildLock":
        self.fh = open(self.path, "w")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def ensure_image(name: str = "python", *, client: Any = None, log: Log = _stderr_log) -> ImageInfo:
    """The image of recipe `name`, built (with its base) if this recipe version has not been built yet."""
    client = client or docker_client()
    tag = image_tag(name)
    img = _find_image(client, tag)
    if img is not None:
        return ImageInfo(name, tag, img.id, recipe_hash(name))
    with _BuildLock(name):
        img = _find_image(client, tag)  # built by someone else while we waited
        if img is not None:
            return ImageInfo(name, tag, img.id, recipe_hash(name))
        start = time.monotonic()
        base = _ensure_base(name, client, log)
        log(f"building {tag} on {base}")
        with tempfile.TemporaryDirectory(prefix=f"harness-context-{name}-") as ctx:
            for rel, f in context_files(name).items():
                (Path(ctx) / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, Path(ctx) / rel)
            img = _docker_build(client, Path(ctx), tag, buildargs={"BASE": base}, network_mode="none",
                                labels={LABEL_RECIPE: name, LABEL_RECIPE_HASH: recipe_hash(name)},
                                source=recipe_dir(name))
        took = time.monotonic() - start
        log(f"built {tag} ({img.id[:19]}) in {took:.0f}s")
        return ImageInfo(name, tag, img.id, recipe_hash(name), built_now=True, build_s=took)


def _docker_build(client: Any, context: Path, tag: str, source: Path | None = None, **kwargs: Any) -> Any:
    """`docker build` of the folder `context`; errors name `source`, the recipe it was made from, if given."""
    import docker.errors

    where = source or context
    try:
        img, _logs = client.images.build(path=str(context), tag=tag, rm=True, forcerm=True, **kwargs)
        return img
    except docker.errors.BuildError as exc:
        tail = "".join(str(c.get("stream", c.get("error", ""))) for c in list(exc.build_log)[-15:])
        raise ImageBuildError(f"docker build of {tag} from {where} failed: {exc}\n{tail}") from exc
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"docker build of {tag} from {where} failed: {exc}") from exc


def _ensure_base(name: str, client: Any, log: Log) -> str:
    tag = base_tag(name)
    if _find_image(client, tag) is not None:
        return tag
    pkgs = packages(name)
    if _try_pull(client, PULL_BASE, log):
        log(f"building base {tag} from {PULL_BASE} + apt-get install {' '.join(pkgs)}")
        _build_base_from_pull(client, tag, name, pkgs)
    else:
        log(f"bootstrapping base {tag} with mmdebstrap ({SUITE}, minbase + {' '.join(pkgs)})")
        _bootstrap_base(client, tag, name, pkgs, log)
    return tag


def _try_pull(client: Any, ref: str, log: Log) -> bool:
    if os.environ.get("HARNESS_IMAGES_OFFLINE") == "1":
        return False
    try:
        client.images.pull(ref)
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means: go offline
        log(f"pull of {ref} failed ({type(exc).__name__}: {str(exc)[:160]}); building offline instead")
        return False


def _base_labels(name: str) -> dict[str, str]:
    return {LABEL_RECIPE: f"base-{name}", LABEL_RECIPE_HASH: base_hash(name)}


def _build_base_from_pull(client: Any, tag: str, name: str, pkgs: list[str]) -> None:
    """debian:bookworm-slim + apt-get, on the host's network.  A TLS-intercepting proxy's CA (the host's
    bundle) is trusted during the build, and the host's proxy settings are passed through."""
    with tempfile.TemporaryDirectory(prefix="harness-base-") as ctx:
        lines = [f"FROM {PULL_BASE}"]
        if HOST_CA_BUNDLE.is_file():
            shutil.copy(HOST_CA_BUNDLE, Path(ctx) / "host-ca.crt")
            lines += ["COPY host-ca.crt /etc/ssl/certs/ca-certificates.crt",
                      "RUN echo 'Acquire::https::CAInfo \"/etc/ssl/certs/ca-certificates.crt\";' "
                      "> /etc/apt/apt.conf.d/99host-ca"]
        lines += ["RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
                  "--no-install-recommends " + " ".join(pkgs) + " && rm -rf /var/lib/apt/lists/*"]
        (Path(ctx) / "Dockerfile").write_text("\n".join(lines) + "\n")
        proxies = {k: v for k in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
                   if (v := os.environ.get(k))}
        _docker_build(client, Path(ctx), tag, network_mode="host", buildargs=proxies, labels=_base_labels(name))


def _ensure_mmdebstrap(log: Log) -> str:
    exe = shutil.which("mmdebstrap")
    if exe:
        return exe
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing mmdebstrap (apt-get)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "mmdebstrap"],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, env=env)
            r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "mmdebstrap"],
                               capture_output=True, text=True, env=env)
        exe = shutil.which("mmdebstrap")
        if exe:
            return exe
        raise ImageBuildError(f"apt-get install mmdebstrap failed: {r.stderr[-800:]}")
    raise ImageBuildError("cannot build the base image: no registry answers and mmdebstrap is missing. "
                          "Install it (`apt-get install mmdebstrap`, as root) or make a registry reachable.")


def _bootstrap_base(client: Any, tag: str, name: str, pkgs: list[str], log: Log) -> None:
    """mmdebstrap --variant=minbase | docker import.  apt runs on the host, so the host's apt configuration
    (proxy) and CA store (including a TLS-intercepting proxy's CA) apply as they are."""
    exe = _ensure_mmdebstrap(log)
    cmd = [exe, "--variant=minbase", "--include=" + ",".join(pkgs),
           "--aptopt=Acquire::Check-Valid-Until \"false\"",
           "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
           SUITE, "-"]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        try:
            repo, tag_part = tag.rsplit(":", 1)
            client.api.import_image_from_stream(proc.stdout, repository=repo, tag=tag_part,
                                                changes=['CMD ["/bin/sh"]', "ENV LANG=C.UTF-8"])
        except Exception as exc:  # noqa: BLE001
            proc.kill()
            raise ImageBuildError(f"docker import of the mmdebstrap tarball failed: {exc}") from exc
        finally:
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            raise ImageBuildError(f"mmdebstrap failed (exit {rc}): {' '.join(cmd)}\n"
                                  + err.read().decode("utf-8", "replace")[-1500:])
    img = _find_image(client, tag)
    if img is None:
        raise ImageBuildError(f"docker import finished but {tag} does not exist")
    # docker import cannot set labels; add them with a trivial build so that list/prune can find the base.
    with tempfile.TemporaryDirectory() as ctx:
        (Path(ctx) / "Dockerfile").write_text(f"FROM {tag}\n")
        _docker_build(client, Path(ctx), tag, network_mode="none", labels=_base_labels(name))


# ------------------------------------------------------------------------------------- list & prune
def list_images(client: Any = None) -> list[ImageRow]:
    """Every image built by the harness (runtime and base images), newest first."""
    client = client or docker_client()
    current: set[str] = set()
    for name in recipe_names():
        current |= {image_tag(name), base_tag(name)}
    rows = []
    for img in client.images.list(filters={"label": LABEL_RECIPE}):
        labels = img.labels or {}
        for tag in img.tags or ["<none>"]:
            rows.append(ImageRow(tag=tag, id=img.id, recipe=labels.get(LABEL_RECIPE, "?"),
                                 recipe_hash=labels.get(LABEL_RECIPE_HASH, "?"),
                                 size_mb=round(img.attrs.get("Size", 0) / 1e6, 1),
                                 created=img.attrs.get("Created", "")[:19],
                                 # an instance image (SWE-bench-Live) is kept under its task's disk budget
                                 current=tag in current or labels.get(LABEL_RECIPE) == INSTANCE_RECIPE))
    return sorted(rows, key=lambda r: r.created, reverse=True)


def prune_images(client: Any = None, *, keep_current: bool = True) -> list[str]:
    """Remove harness images not built from the current recipes (all of them if keep_current=False).
    Returns the removed tags."""
    import docker.errors

    client = client or docker_client()
    removed = []
    for row in list_images(client):
        if keep_current and row.current:
            continue
        try:
            client.images.remove(row.tag if row.tag != "<none>" else row.id, force=False)
            removed.append(row.tag)
        except docker.errors.APIError:
            pass  # in use by a container, or a parent of a kept image
    client.images.prune(filters={"dangling": True})
    return removed
