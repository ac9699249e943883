"""Which image grades a SWE-bench-Live instance, and building one offline from a recipe.

An instance grades in the first of these that can be had:

  1. the image a local mapping names (`-T image_map=FILE`, JSON {instance_id: image}) or the instance's own
     `docker_image` field: used as it is (present, or pulled where a registry answers);
  2. an image built here from its recipe, where it has one (`recipes/<instance_id>.json` or `-T recipes_dir=`,
     see `Recipe`; a recipe's test command goes with its image), tagged `harness-swe-<instance key>:<recipe
     hash>`: the repository at base_commit as a one-commit git repository at /testbed, Python requirements from
     wheels downloaded on the host and installed with no network, on the `sandboxes/swe/` base image;
  3. its published image, `published_name(instance_id)`, when present or pullable (`-T pull=auto`); with
     `-T registry=HOST[:PORT][/PREFIX]` (a mirror of the published images, for a cluster without Docker Hub) it is
     looked up and pulled as `<registry>/<namespace>/sweb.eval.x86_64.<key>:latest` instead.

Otherwise the instance is "missing", with what the user can do.  Instance images are big, so a disk budget
(`-T disk_budget_gb=N`) removes the least recently used of ours (images labelled `harness.swe.instance=1`, and
published ones we pulled) before a new build or pull; last uses and leases live in a small SQLite file under
the harness cache folder.  An image with a container, or leased by a live process (`Images.use`), is never removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.paths import cache_dir
from harness.sandbox.engine import LABEL_OWNER_HOST, LABEL_OWNER_PID, _owner_alive, docker_client
from harness.sandbox.errors import ImageBuildError, InfraError, SandboxError
from harness.sandbox.images import (INSTANCE_RECIPE, LABEL_RECIPE, LABEL_RECIPE_HASH, _BuildLock, _find_image,
                                    ensure_image, image_tag)
from harness.task import TaskError, TaskOption, file_sha256

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
PUBLISHED_NAMESPACE = "starryzhang"  # SWE-bench-Live's images on Docker Hub
CLASSIC_NAMESPACE = "swebench"  # the original SWE-bench's, same naming
BUILDER_VERSION = "2"  # bump to rebuild every recipe image when the build procedure changes
BASE_RECIPE = "swe"  # sandboxes/swe/
LABEL_INSTANCE = "harness.swe.instance"  # "1" on every instance image we build
LABEL_INSTANCE_ID = "harness.swe.instance_id"
LABEL_SWE_RECIPE_HASH = "harness.swe.recipe.hash"
LABEL_BASE = "harness.swe.base"
SANDBOX_UID = 65534
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
COMMIT_DATE = "2000-01-01T00:00:00+0000"  # our one commit's date: the same tree gives the same commit
REGISTRY_PROBE_TIMEOUT_S = 20

Log = Callable[[str], None]


def _stderr_log(msg: str) -> None:
    print(f"[swe-images] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ names
def instance_key(instance_id: str) -> str:
    """The published key of an instance id: "__" -> "_1776_", lowercased (amoffat__sh-744 -> amoffat_1776_sh-744)."""
    return instance_id.replace("__", "_1776_").lower()


def published_name(instance_id: str, namespace: str = PUBLISHED_NAMESPACE, *, registry: str = "") -> str:
    """SWE-bench-Live's image of an instance on Docker Hub (namespace "swebench": the original SWE-bench's), or on
    the mirror `registry` (HOST[:PORT][/PREFIX], see check_registry) under the same namespace and name."""
    name = f"{namespace}/sweb.eval.x86_64.{instance_key(instance_id)}:latest"
    return f"{registry}/{name}" if registry else name


def _published_name_of(inst: Any, registry: str = "") -> str:
    """An instance of the classic SWE-bench schema (it has an environment_setup_commit) is in its namespace."""
    classic = "environment_setup_commit" in (getattr(inst, "extra", None) or {})
    return published_name(inst.instance_id, CLASSIC_NAMESPACE if classic else PUBLISHED_NAMESPACE, registry=registry)


# Docker's reference grammar: a host (a name, an IPv4 address) with an optional port, then lowercase path parts
_REGISTRY = re.compile(r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?P<port>:[0-9]+)?"
                       r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")


def check_registry(value: str) -> str:
    """A registry mirror as Docker reads the first part of an image name: HOST[:PORT][/PREFIX] (a trailing "/"
    dropped), or TaskError in one line.  A host without a "." or a port (but localhost) is refused: Docker would
    take it for a namespace on Docker Hub."""
    value = value.rstrip("/")
    if "://" in value:
        raise TaskError(f"-T registry={value}: expected HOST[:PORT][/PREFIX] without a scheme (Docker uses HTTPS, or "
                        f"plain HTTP for the engine's insecure registries, 127.0.0.0/8 by default)")
    m = _REGISTRY.fullmatch(value)
    if not m:
        raise TaskError(f"-T registry={value!r}: expected HOST[:PORT][/PREFIX] (e.g. registry.example.com:5000/"
                        f"mirror): no spaces, a lowercase prefix")
    if "." not in m["host"] and not m["port"] and m["host"] != "localhost":
        raise TaskError(f"-T registry={value}: Docker would read {m['host']!r} as a namespace on Docker Hub; give "
                        f"the registry's full host name or its port ({m['host']}:5000)")
    return value


def _local_repo_name(instance_id: str) -> str:
    return "harness-swe-" + re.sub(r"[^a-z0-9._-]", "-", instance_key(instance_id))


# ---------------------------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class Recipe:
    """How to build an instance image offline.  `source`: a git clone holding base_commit, a plain source tree
    at base_commit, or a .tar.gz / .tar of it (`git archive`; a tarball holding one folder only is taken as that
    folder, as `git archive --prefix=` and GitHub make them); `setup`: shell commands run in /testbed at build
    time; `requirements`: pip specs, as wheels downloaded on the host (pin them: an unpinned spec resolves to
    whatever the wheel cache or the index has when the image is built); `install_self`: `pip install
    --no-build-isolation -e .`; `test_cmds`: the instance's test command where the data has none; `env`: set in
    the image; `network`: build with the host's network (its proxy CA trusted) instead of none."""

    instance_id: str
    source: Path
    base_commit: str
    setup: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    install_self: bool = False
    test_cmds: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    network: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Path(self.source))
        bad = [k for k in self.env if not _ENV_NAME.fullmatch(k)]
        if bad:
            raise TaskError(f"recipe of {self.instance_id}, field 'env': {bad[0]!r} is not a variable name")


_RECIPE_FIELDS = {f.name for f in dataclasses.fields(Recipe)}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load_recipe(path: Path, *, repos_dir: Path | None = None) -> Recipe:
    """A recipe file (JSON).  A relative `source` is looked up in `repos_dir` when given, else beside the file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaskError(f"recipe {path}: cannot read it as JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise TaskError(f"recipe {path}: expected a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _RECIPE_FIELDS)
    if unknown:
        raise TaskError(f"recipe {path}: unknown field {unknown[0]!r}; fields: {', '.join(sorted(_RECIPE_FIELDS))}")

    def text(name: str) -> str:
        value = raw.get(name)
        if not isinstance(value, str) or not value:
            raise TaskError(f"recipe {path}, field {name!r}: expected a non-empty string, got {value!r}")
        return value

    def strings(name: str) -> tuple[str, ...]:
        value = raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TaskError(f"recipe {path}, field {name!r}: expected a list of strings, got {value!r}")
        return tuple(value)

    def flag(name: str) -> bool:
        value = raw.get(name, False)
        if not isinstance(value, bool):
            raise TaskError(f"recipe {path}, field {name!r}: expected true or false, got {value!r}")
        return value

    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise TaskError(f"recipe {path}, field 'env': expected an object of strings, got {env!r}")
    source = Path(text("source")).expanduser()
    if not source.is_absolute():
        source = ((Path(repos_dir) if repos_dir else path.parent) / source).absolute()
    try:
        return Recipe(instance_id=text("instance_id"), source=source, base_commit=text("base_commit"),
                      setup=strings("setup"), requirements=strings("requirements"),
                      install_self=flag("install_self"), test_cmds=strings("test_cmds"), env=dict(env),
                      network=flag("network"))
    except TaskError as exc:
        raise TaskError(f"recipe {path}, {str(exc).split(', ', 1)[1]}") from None


def recipe_for(instance_id: str, *, recipes_dir: Path | None = None, repos_dir: Path | None = None) -> Recipe | None:
    """The recipe of an instance in the recipes folder (`<instance_id>.json`), or None."""
    path = Path(recipes_dir or RECIPES_DIR) / f"{instance_id}.json"
    if not path.is_file():
        return None
    recipe = load_recipe(path, repos_dir=repos_dir)
    if recipe.instance_id != instance_id:
        raise TaskError(f"recipe {path}, field 'instance_id': {recipe.instance_id!r} does not match the file name")
    return recipe


def source_kind(source: Path) -> str:
    """"clone", "tree" or "tarball": what a recipe's source is (ImageBuildError: none of them)."""
    if source.is_dir():
        bare = (source / "HEAD").is_file() and (source / "objects").is_dir()
        return "clone" if (source / ".git").exists() or bare else "tree"
    if source.is_file() and (source.name.endswith((".tar.gz", ".tgz", ".tar"))):
        return "tarball"
    if source.exists():
        raise ImageBuildError(f"source {source}: expected a git clone, a source folder or a .tar.gz/.tar of one")
    raise ImageBuildError(f"source {source} does not exist")


def _git(*args: str, cwd: Path | None = None) -> str:
    r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ImageBuildError(f"git {' '.join(args)} in {cwd} failed: {r.stderr.strip()[-300:]}")
    return r.stdout.strip()


def _clone_commit(recipe: Recipe) -> str:
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{recipe.base_commit}^{{commit}}", cwd=recipe.source)
    except ImageBuildError:
        raise ImageBuildError(f"recipe {recipe.instance_id}: base_commit {recipe.base_commit} is not in the "
                              f"clone {recipe.source}") from None


def _tree_sha256(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            h.update(f"L {p.relative_to(root)} {os.readlink(p)}\n".encode())
        elif p.is_file():
            h.update(f"F {p.relative_to(root)} {os.access(p, os.X_OK)} {file_sha256(p)}\n".encode())
    return h.hexdigest()


def _source_identity(recipe: Recipe) -> str:
    kind = source_kind(recipe.source)
    if kind == "clone":
        return f"commit:{_clone_commit(recipe)}"  # git archive of base_commit: the commit is the tree
    if kind == "tarball":
        return f"tarball:{file_sha256(recipe.source)}"
    return f"tree:{_tree_sha256(recipe.source)}"


def recipe_hash(recipe: Recipe) -> str:
    """What the image is built from: the base image's recipe, the source's content and every build field
    (test_cmds and the source's path are not part of it: they do not change the image)."""
    parts = {"builder": BUILDER_VERSION, "base": image_tag(BASE_RECIPE), "instance_id": recipe.instance_id,
             "base_commit": recipe.base_commit, "source": _source_identity(recipe), "setup": list(recipe.setup),
             "requirements": list(recipe.requirements), "install_self": recipe.install_self,
             "env": dict(sorted(recipe.env.items())), "network": recipe.network}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def recipe_tag(recipe: Recipe) -> str:
    return f"{_local_repo_name(recipe.instance_id)}:{recipe_hash(recipe)}"


# ------------------------------------------------------------------------------------------------ build
_BASE_FACTS: dict[str, tuple[str, str, str]] = {}


def _base_facts(client: Any, base: str) -> tuple[str, str, str]:
    """(python version "3.11", glibc version "2.36", machine "x86_64") of the base image, for pip download."""
    if base not in _BASE_FACTS:
        code = "import platform, sys; print('%d.%d' % sys.version_info[:2], platform.libc_ver()[1], platform.machine())"
        out = client.containers.run(base, ["python3", "-c", code], remove=True, network_disabled=True)
        python, glibc, machine = out.decode().split()
        _BASE_FACTS[base] = (python, glibc, machine)
    return _BASE_FACTS[base]


def _pip_platforms(glibc: str, machine: str) -> list[str]:
    """Every manylinux tag the base's glibc runs (pip does not expand --platform to older glibc versions)."""
    major, minor = (int(x) for x in glibc.split(".")[:2])
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 4, -1)]
    return tags + [f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}"]


def wheels_dir() -> Path:
    return cache_dir() / "swe-wheels"


def _download_wheels(requirements: Sequence[str], python: str, glibc: str, machine: str, dest: Path,
                     log: Log) -> None:
    """Wheels of the requirements (and their dependencies) for the base image's Python, into dest: from the
    machine's wheel cache alone where it has them all, else from the index (on the host's network), adding what
    was fetched to the cache."""
    cache = wheels_dir()
    cache.mkdir(parents=True, exist_ok=True)
    dest.mkdir(parents=True, exist_ok=True)
    abi = "cp" + python.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
           "--python-version", python, "--implementation", "cp", "--abi", abi,
           *(a for p in _pip_platforms(glibc, machine) for a in ("--platform", p)),
           "--find-links", str(cache), "-d", str(dest), "--", *requirements]
    offline = subprocess.run(cmd[:4] + ["--no-index"] + cmd[4:], capture_output=True, text=True)
    if offline.returncode == 0:
        return
    log(f"downloading wheels for Python {python}: {' '.join(requirements)}")
    online = subprocess.run(cmd, capture_output=True, text=True)
    if online.returncode != 0:
        why = [ln for ln in online.stderr.splitlines() if ln.startswith("ERROR")] or online.stderr.splitlines()[-3:]
        raise ImageBuildError(f"pip download of {' '.join(requirements)} (wheels only, Python {python}) failed: "
                              + " | ".join(why)[-600:] + f" (a package without a wheel: put one, e.g. from "
                              f"`pip wheel`, in {cache})")
    for wheel in dest.iterdir():
        if not (cache / wheel.name).exists():
            tmp = cache / f".{wheel.name}.{os.getpid()}"
            shutil.copyfile(wheel, tmp)
            tmp.replace(cache / wheel.name)


def _extract_tar(stream: Any, dest: Path, *, mode: str, what: str, strip: bool) -> str | None:
    """Extract a tar stream safely (no absolute paths, no links out of dest); returns the git commit id that
    `git archive` records in the pax header, if any.  With `strip`, a single top-level folder (a tarball made with
    `git archive --prefix=name/`, or by GitHub) is taken as the tree."""
    with tarfile.open(fileobj=stream, mode=mode) as tar:
        tar.extractall(dest, filter="data")
        commit = tar.pax_headers.get("comment")
    entries = list(dest.iterdir())
    if strip and len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        tmp = dest.parent / f"{dest.name}.strip"
        inner.rename(tmp)
        dest.rmdir()
        tmp.rename(dest)
    if not any(dest.iterdir()):
        raise ImageBuildError(f"{what} is empty")
    return commit


def _stage_source(recipe: Recipe, dest: Path) -> None:
    """The repository's tree at base_commit, in dest (no .git: the image makes its own one-commit repository)."""
    kind = source_kind(recipe.source)
    dest.mkdir()
    if kind == "clone":
        commit = _clone_commit(recipe)
        proc = subprocess.Popen(["git", "-C", str(recipe.source), "archive", "--format=tar", commit],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _extract_tar(proc.stdout, dest, mode="r|", what=f"git archive {commit} of {recipe.source}", strip=False)
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise ImageBuildError(f"git archive {commit} in {recipe.source} failed: {err.decode()[-300:]}")
    elif kind == "tarball":
        with open(recipe.source, "rb") as f:
            commit = _extract_tar(f, dest, mode="r:*", what=f"tarball {recipe.source}", strip=True)
        if commit and not commit.startswith(recipe.base_commit) and not recipe.base_commit.startswith(commit):
            raise ImageBuildError(f"recipe {recipe.instance_id}: the tarball {recipe.source} is commit {commit}, "
                                  f"not base_commit {recipe.base_commit}")
    else:
        shutil.copytree(recipe.source, dest, symlinks=True, dirs_exist_ok=True)


def _host_cas() -> list[Path]:
    return sorted(HOST_CA_DIR.glob("*.crt")) if HOST_CA_DIR.is_dir() else []


def _run(command: str) -> str:
    return "RUN " + json.dumps(["bash", "-euo", "pipefail", "-c", command])


def _dockerfile(recipe: Recipe, base: str, *, cas: Sequence[str]) -> str:
    quoted = " ".join(shlex.quote(r) for r in recipe.requirements)
    lines = [f"FROM {base}", "USER root"]
    if cas:  # a TLS-intercepting proxy's CA, for a recipe that fetches at build time
        lines += ["COPY ca/ /usr/local/share/ca-certificates/", _run("/usr/sbin/update-ca-certificates >/dev/null"),
                  "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "
                  "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"]
    commit = (f"git init -q && git add -A --force && GIT_AUTHOR_DATE={COMMIT_DATE} GIT_COMMITTER_DATE={COMMIT_DATE} "
              f"git -c user.name=harness -c user.email=harness@localhost commit -q --no-verify --allow-empty "
              f"-m {shlex.quote(f'base_commit {recipe.base_commit}')}")
    offline = "" if recipe.network else "PIP_NO_INDEX=1 "
    lines += [f"COPY --chown={SANDBOX_UID}:{SANDBOX_UID} testbed/ /testbed/",
              f"USER {SANDBOX_UID}:{SANDBOX_UID}", "WORKDIR /testbed", "ENV HOME=/tmp",
              _run(commit), "USER root",
              "COPY wheels/ /opt/wheels/",
              f"ENV {offline}PIP_FIND_LINKS=/opt/wheels PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 "
              "PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin",
              # the venv sees Debian's packages (pytest, pip) and takes the recipe's over them
              _run("python3 -m venv --system-site-packages --without-pip /opt/venv")]
    if recipe.requirements:
        lines.append(_run(f"python -m pip install -q {quoted}"))
    if recipe.install_self:
        lines.append(_run("python -m pip install -q --no-build-isolation -e ."))
    lines += [_run(cmd) for cmd in recipe.setup]
    # whatever the install and set-up made in /testbed belongs to the sandbox user too (only those files change)
    lines.append(_run(f"find /testbed ! -user {SANDBOX_UID} -exec chown -h {SANDBOX_UID}:{SANDBOX_UID} {{}} +"))
    lines += [f"ENV {k}={json.dumps(v).replace('$', chr(92) + '$')}" for k, v in sorted(recipe.env.items())]
    lines += [f"USER {SANDBOX_UID}:{SANDBOX_UID}", "WORKDIR /testbed",
              'CMD ["sleep", "infinity"]']
    return "\n".join(lines) + "\n"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the legacy builder colours a step's stderr


def _build_failure(tag: str, recipe: Recipe, exc: Exception, log_lines: list[str]) -> ImageBuildError:
    step = next((ln.strip() for ln in reversed(log_lines) if ln.startswith("Step ")), "")
    tail = [_ANSI.sub("", ln).rstrip() for ln in log_lines if _ANSI.sub("", ln).strip()][-15:]
    where = f" at {step}" if step else ""
    return ImageBuildError(f"building {tag} for {recipe.instance_id} failed{where}: {str(exc).strip()[:300]}\n"
                           + "\n".join("    " + ln for ln in tail))


def _remove_partial(client: Any, log_lines: list[str]) -> None:
    """The untagged layers a failed build left (the legacy builder keeps each finished step's image)."""
    import docker.errors

    steps = [m.group(1) for ln in log_lines if (m := re.match(r"\s*---> ([0-9a-f]{12})\s*$", ln))]
    if steps and (img := _find_image(client, steps[-1])) is not None and not img.tags:
        try:
            client.images.remove(img.id)  # and its untagged parents that nothing else uses
        except docker.errors.APIError:
            pass


def build_recipe_image(recipe: Recipe, *, client: Any = None, log: Log = _stderr_log,
                       uses: UseLog | None = None) -> str:
    """The instance image of a recipe, built unless it exists (one build per tag at a time on this machine), and
    recorded in the use log (the machine's by default), which makes it one the disk budget may remove.
    Returns its tag.  Raises ImageBuildError with the failing step and the log's tail."""
    import docker.errors

    client = client or docker_client()
    digest = recipe_hash(recipe)
    tag = f"{_local_repo_name(recipe.instance_id)}:{digest}"
    if _find_image(client, tag) is not None:
        return tag
    with _BuildLock(tag.replace(":", "-").replace("/", "-")):
        if _find_image(client, tag) is not None:
            return tag
        start = time.monotonic()
        base = ensure_image(BASE_RECIPE, client=client, log=log).tag
        python, glibc, machine = _base_facts(client, base)
        with tempfile.TemporaryDirectory(prefix="harness-swe-build-") as tmp:
            ctx = Path(tmp)
            _stage_source(recipe, ctx / "testbed")
            (ctx / "wheels").mkdir()
            if recipe.requirements:
                _download_wheels(recipe.requirements, python, glibc, machine, ctx / "wheels", log)
            cas = []
            if recipe.network:
                (ctx / "ca").mkdir()
                for ca in _host_cas():
                    shutil.copy(ca, ctx / "ca" / ca.name)
                    cas.append(ca.name)
            (ctx / "Dockerfile").write_text(_dockerfile(recipe, base, cas=cas))
            # (the base's harness.recipe labels would be inherited: say what this image is, for `harness images`)
            labels = {LABEL_INSTANCE: "1", LABEL_INSTANCE_ID: recipe.instance_id, LABEL_SWE_RECIPE_HASH: digest,
                      LABEL_BASE: base, LABEL_RECIPE: INSTANCE_RECIPE, LABEL_RECIPE_HASH: digest}
            log(f"building {tag} for {recipe.instance_id} on {base}")
            log_lines: list[str] = []
            try:
                for chunk in client.api.build(path=str(ctx), tag=tag, rm=True, forcerm=True, decode=True,
                                              labels=labels, network_mode="host" if recipe.network else "none"):
                    if "stream" in chunk:
                        log_lines += chunk["stream"].splitlines()
                    if "error" in chunk:
                        raise docker.errors.BuildError(chunk["error"], log_lines)
            except (docker.errors.BuildError, docker.errors.APIError) as exc:
                _remove_partial(client, log_lines)
                raise _build_failure(tag, recipe, exc, log_lines) from exc
        img = _find_image(client, tag)
        if img is None:
            raise ImageBuildError(f"building {tag} for {recipe.instance_id} ended without an image:\n"
                                  + "\n".join(log_lines[-15:]))
        size = unique_size(client, img)
        (uses or UseLog()).touch(tag, size=size)
        log(f"built {tag} in {time.monotonic() - start:.0f}s ({size / 1e6:.0f} MB above the base)")
        return tag


# -------------------------------------------------------------------------------------- uses and leases
class UseLog:
    """Last use of each instance image (for least-recently-used removal), whether we pulled it, its size, and
    leases: images a live process is grading in.  One SQLite file for the machine."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path or cache_dir() / "swe-images.sqlite")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS images (tag TEXT PRIMARY KEY, last_used REAL NOT NULL, "
                       "pulled INTEGER NOT NULL DEFAULT 0, size INTEGER)")
            db.execute("CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY, tag TEXT NOT NULL, "
                       "pid INTEGER NOT NULL, host TEXT NOT NULL, since REAL NOT NULL)")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            with db:
                yield db
        finally:
            db.close()

    def touch(self, tag: str, *, pulled: bool = False, size: int | None = None) -> None:
        with self._db() as db:
            db.execute("INSERT INTO images (tag, last_used, pulled, size) VALUES (?, ?, ?, ?) ON CONFLICT(tag) DO "
                       "UPDATE SET last_used = excluded.last_used, pulled = MAX(pulled, excluded.pulled), "
                       "size = COALESCE(excluded.size, size)", (tag, time.time(), int(pulled), size))

    def rows(self) -> dict[str, tuple[float, bool, int | None]]:
        with self._db() as db:
            return {t: (u, bool(p), s) for t, u, p, s in db.execute("SELECT tag, last_used, pulled, size FROM images")}

    def lease(self, tag: str) -> int:
        with self._db() as db:
            return db.execute("INSERT INTO leases (tag, pid, host, since) VALUES (?, ?, ?, ?)",
                              (tag, os.getpid(), socket.gethostname(), time.time())).lastrowid

    def release(self, lease_id: int) -> None:
        with self._db() as db:
            db.execute("DELETE FROM leases WHERE id = ?", (lease_id,))

    def leased(self) -> set[str]:
        """Tags leased by a live process (leases of dead processes on this host are dropped)."""
        live, dead = set(), []
        with self._db() as db:
            for lid, tag, pid, lhost in db.execute("SELECT id, tag, pid, host FROM leases"):
                if _owner_alive({LABEL_OWNER_HOST: lhost, LABEL_OWNER_PID: str(pid)}):
                    live.add(tag)
                else:
                    dead.append((lid,))
            db.executemany("DELETE FROM leases WHERE id = ?", dead)
        return live


# ---------------------------------------------------------------------------------------------- Images
@dataclass(frozen=True)
class ImagePlan:
    instance_id: str
    tag: str  # the image a grade runs in
    how: str  # "local" (present), "pull" (registry name, not present), "build" (recipe, not built), "missing"
    fingerprint: str  # the image id when present, "recipe:<hash>" for a recipe image (built or not), "pull:<name>"
    size_bytes: int | None  # present: the disk it takes (our builds: above the base image); else an estimate or None
    reason: str = ""  # "missing": what the user can do


@dataclass(frozen=True)
class Plan:
    """What a run needs: one row per instance and the disk budget they are held to."""

    rows: list[ImagePlan]
    budget_bytes: int | None
    used_bytes: int  # our instance images present now

    def needed_bytes(self) -> int:
        return sum(r.size_bytes or 0 for r in self.rows if r.how in ("pull", "build"))

    def run_bytes(self) -> int:
        """The run's images all present at once (each image once)."""
        return sum({r.tag: r.size_bytes or 0 for r in self.rows if r.how != "missing"}.values())

    def fits(self) -> bool | None:
        return None if self.budget_bytes is None else self.run_bytes() <= self.budget_bytes

    def as_json(self) -> dict[str, Any]:
        counts = {how: sum(r.how == how for r in self.rows) for how in ("local", "pull", "build", "missing")}
        return {"rows": [dataclasses.asdict(r) for r in self.rows], "counts": counts,
                "needed_bytes": self.needed_bytes(), "run_bytes": self.run_bytes(), "used_bytes": self.used_bytes,
                "budget_bytes": self.budget_bytes, "fits": self.fits(),
                "unknown_sizes": sum(r.size_bytes is None for r in self.rows if r.how in ("pull", "build"))}


class Images:
    """Finds, pulls, builds and (under a disk budget) removes the images instances grade in.

    `mapping`: instance id -> image (a local name mapping); `recipes_dir` / `repos_dir`: where recipes and their
    relative sources are; `pull`: pull where a registry answers (False: never); `registry`: a mirror
    (HOST[:PORT][/PREFIX]) that published images are looked up and pulled from instead of Docker Hub (names
    the mapping or the data give stay as they are); `disk_budget_bytes`: keep our instance images within it,
    removing the least recently used first."""

    def __init__(self, *, mapping: Mapping[str, str] | None = None, recipes_dir: Path | None = None,
                 repos_dir: Path | None = None, pull: bool = True, registry: str = "",
                 disk_budget_bytes: int | None = None, log: Log = _stderr_log, client: Any = None,
                 uses: UseLog | None = None):
        self.mapping = dict(mapping or {})
        self.recipes_dir = Path(recipes_dir) if recipes_dir else RECIPES_DIR
        self.repos_dir = Path(repos_dir) if repos_dir else None
        self.pull = pull and os.environ.get("HARNESS_IMAGES_OFFLINE") != "1"
        self.registry = check_registry(registry) if registry else ""
        self.budget = disk_budget_bytes
        self.log = log
        self._client = client
        self.uses = uses or UseLog()
        self._registry_down: str | None = None  # why, once a probe found no registry
        self._published: dict[str, bool] = {}  # name -> the registry has it

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    # --- what a grade will run in ----------------------------------------------------------------------
    def recipe(self, inst: Any) -> Recipe | None:
        return recipe_for(inst.instance_id, recipes_dir=self.recipes_dir, repos_dir=self.repos_dir)

    def plan(self, inst: Any) -> ImagePlan:
        iid = inst.instance_id
        named = self.mapping.get(iid) or getattr(inst, "image", None)
        if named:  # the user's mapping or the data's own image: that one, or none
            return self._present_or_pulled(iid, named) or ImagePlan(
                iid, named, "missing", "missing", None,
                f"{iid} is to grade in {named}, which is not present here and {self._no_pull(named)}")
        published = _published_name_of(inst, self.registry)
        try:  # a recipe goes with its own test command, so where there is one its image is the one
            recipe = self.recipe(inst)
        except TaskError as exc:
            return ImagePlan(iid, published, "missing", "missing", None, str(exc))
        if recipe is not None:
            return self._plan_recipe(recipe)
        return self._present_or_pulled(iid, published) or ImagePlan(iid, published, "missing", "missing", None,
                         f"no image for {iid}: {published} is not present here and {self._no_pull(published)}, and "
                         f"there is no recipe {self.recipes_dir / (iid + '.json')}; `docker load` it, map one with "
                         f"-T image_map=FILE, or write a recipe")

    def _present_or_pulled(self, iid: str, name: str) -> ImagePlan | None:
        img = _find_image(self.client, name)
        if img is not None:
            return ImagePlan(iid, name, "local", img.id, self._size(img))
        if self._pullable(name):
            return ImagePlan(iid, name, "pull", f"pull:{name}", self._recorded_size(name))
        return None

    def _no_pull(self, name: str) -> str:
        if not self.pull:
            return "pulls are off (-T pull=never)"
        return self._registry_down or f"the registry does not have {name}"

    def _plan_recipe(self, recipe: Recipe) -> ImagePlan:
        iid = recipe.instance_id
        try:
            digest = recipe_hash(recipe)
        except ImageBuildError as exc:
            hint = "" if self.repos_dir else " (a relative source is looked up in -T repos_dir=DIR)"
            return ImagePlan(iid, _local_repo_name(iid), "missing", "missing", None,
                             f"recipe of {iid}: {exc}{hint}")
        tag = f"{_local_repo_name(iid)}:{digest}"
        img = _find_image(self.client, tag)
        if img is not None:
            return ImagePlan(iid, tag, "local", f"recipe:{digest}", self._size(img))
        size = self._recorded_size(tag)
        return ImagePlan(iid, tag, "build", f"recipe:{digest}", size if size is not None else _estimate(recipe))

    def _pullable(self, name: str) -> bool:
        """The registry has `name`: asked once per name, and not again once the registry did not answer."""
        import docker
        import docker.errors

        if not self.pull or self._registry_down:
            return False
        mirror = self.registry and name.startswith(self.registry + "/")
        at = f" at {self.registry.split('/')[0]} (-T registry)" if mirror else ""
        if name not in self._published:
            try:
                # a client of its own, so that a registry that does not answer costs seconds, not minutes
                docker.from_env(timeout=REGISTRY_PROBE_TIMEOUT_S).api.inspect_distribution(name)
                self._published[name] = True
            except docker.errors.APIError as exc:
                text = str(exc)
                if exc.status_code in (401, 403, 404) or "manifest unknown" in text or "not found" in text.lower():
                    self._published[name] = False
                else:
                    self._registry_down = f"no registry answers{at} ({(exc.explanation or text)[:200]})"
                    return False
            except Exception as exc:  # noqa: BLE001 - a timeout or a refused connection: no registry
                self._registry_down = f"no registry answers{at} ({type(exc).__name__}: {str(exc)[:120]})"
                return False
        return self._published[name]

    # --- sizes --------------------------------------------------------------------------------------------
    def _size(self, img: Any) -> int:
        return unique_size(self.client, img)

    def _recorded_size(self, tag: str) -> int | None:
        row = self.uses.rows().get(tag)
        return row[2] if row else None

    def ours(self) -> dict[str, Any]:
        """Our instance images present now, by tag: the use log's, that is images built from recipes (labelled
        harness.swe.instance=1) and published ones pulled, through this log."""
        rows = self.uses.rows()
        found = {tag: img for img in self.client.images.list(filters={"label": f"{LABEL_INSTANCE}=1"})
                 for tag in img.tags if tag in rows}
        for tag, (_used, pulled, _size) in rows.items():
            if pulled and tag not in found and (img := _find_image(self.client, tag)) is not None:
                found[tag] = img
        return found

    def used_bytes(self) -> int:
        return sum(self._size(img) for img in {img.id: img for img in self.ours().values()}.values())

    # --- getting it -----------------------------------------------------------------------------------------
    def ensure(self, inst: Any) -> str:
        """The image's tag, pulled or built where needed (after making room under the budget).  Raises
        InfraError with what the user can do when there is none."""
        p = self.plan(inst)
        if p.how == "missing":
            raise InfraError(p.reason)
        if p.how == "pull":
            self._make_room(p.size_bytes or 0, keep=p.tag)
            self.log(f"pulling {p.tag} for {p.instance_id}")
            try:
                self.client.images.pull(p.tag)
            except Exception as exc:  # noqa: BLE001 - the SDK raises several kinds
                raise ImageBuildError(f"pull of {p.tag} for {p.instance_id} failed: {str(exc)[:300]}") from exc
            img = _find_image(self.client, p.tag)
            self.uses.touch(p.tag, pulled=True, size=self._size(img) if img is not None else None)
        elif p.how == "build":
            recipe = self.recipe(inst)
            assert recipe is not None
            self._make_room(p.size_bytes or 0, keep=p.tag)
            build_recipe_image(recipe, client=self.client, log=self.log, uses=self.uses)
        else:
            self.touch(p.tag)
        return p.tag

    def touch(self, tag: str) -> None:
        """Record a use of an image (least recently used ones are removed first)."""
        self.uses.touch(tag)

    @contextlib.contextmanager
    def use(self, inst: Any) -> Iterator[str]:
        """`with images.use(inst) as tag:` grade in it; the image is not removed by anyone while the block runs."""
        tag = self.ensure(inst)
        lease = self.uses.lease(tag)
        try:
            yield tag
        finally:
            self.uses.release(lease)
            self.uses.touch(tag)

    def _make_room(self, needed: int, *, keep: str) -> list[str]:
        """Remove our least recently used instance images until `needed` more bytes fit the budget.  Images in
        use (a container of them exists, or a live lease) and `keep` stay.  Returns the removed tags."""
        import docker.errors

        if self.budget is None:
            return []
        removed = []
        with _BuildLock("swe-images-budget"):  # one process makes room at a time
            ours = self.ours()
            sizes = {tag: self._size(img) for tag, img in ours.items()}
            used = sum({ours[t].id: s for t, s in sizes.items()}.values())
            if used + needed <= self.budget:
                return []
            rows = self.uses.rows()
            busy = self.uses.leased() | {keep}
            in_containers = {c.attrs.get("Image") for c in self.client.containers.list(all=True, ignore_removed=True)}

            def last_use(tag: str) -> float:
                return rows[tag][0] if tag in rows else _created(ours[tag])

            for tag in sorted(ours, key=last_use):
                if used + needed <= self.budget:
                    break
                img = ours[tag]
                if tag in busy or img.id in in_containers:
                    continue
                try:
                    self.client.images.remove(tag, force=False)
                except docker.errors.APIError as exc:  # a container appeared meanwhile: it is in use
                    self.log(f"kept {tag}: {str(exc)[:160]}")
                    continue
                removed.append(tag)
                if _find_image(self.client, img.id) is None:  # its last tag: the disk is freed
                    used -= sizes[tag]
                self.log(f"removed {tag} (least recently used) to stay within the disk budget of "
                         f"{self.budget / 1e9:.1f} GB")
            if used + needed > self.budget:
                self.log(f"over the disk budget of {self.budget / 1e9:.1f} GB: {used / 1e9:.2f} GB in use and "
                         f"{needed / 1e9:.2f} GB needed, and the rest is in use")
        return removed


def unique_size(client: Any, img: Any) -> int:
    """The disk an image takes beyond the base image it was built on (all of it for images not ours)."""
    size = int(img.attrs.get("Size", 0))
    base = (img.labels or {}).get(LABEL_BASE)
    base_img = _find_image(client, base) if base else None
    return size - int(base_img.attrs.get("Size", 0)) if base_img is not None else size


def _created(img: Any) -> float:
    from datetime import datetime

    stamp = img.attrs.get("Created", "")[:19]
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return 0.0


def _estimate(recipe: Recipe) -> int:
    """A rough size of a recipe image above the base: the tree twice (files and git objects) and 20 MB per
    requirement (wheel and installed files)."""
    try:
        if recipe.source.is_file():
            with tarfile.open(recipe.source) as tar:
                tree = sum(m.size for m in tar.getmembers())
        else:
            tree = sum(p.stat().st_size for p in recipe.source.rglob("*") if p.is_file() and ".git" not in p.parts)
    except (OSError, tarfile.TarError):
        tree = 0
    return 2 * tree + 20_000_000 * len(recipe.requirements)


# ------------------------------------------------------------------------------------------ task options
IMAGE_OPTIONS = (
    TaskOption("image_map", str, "", "a JSON file {instance_id: image}: grade those instances in these images",
               identity=False),
    TaskOption("recipes_dir", str, "", "a folder of recipes (<instance_id>.json) to build images from (default: "
               "the task's recipes/)", identity=False),
    TaskOption("repos_dir", str, "", "where recipes' relative sources are (e.g. ../shared/data/swebench/repos)",
               identity=False),
    TaskOption("pull", str, "auto", "pull published images where a registry answers (never: do not try)",
               choices=("auto", "never"), identity=False),
    TaskOption("registry", str, "", "a mirror of the published images, HOST[:PORT][/PREFIX]: look them up and pull "
               "them as <registry>/starryzhang/sweb.eval.x86_64.<key>:latest (default: Docker Hub)", identity=False),
    TaskOption("disk_budget_gb", float, 0.0, "keep instance images within this many GB, removing the least "
               "recently used first (0: no budget)", identity=False),
)


def images_from_args(args: Mapping[str, Any], *, log: Log = _stderr_log) -> Images:
    """An Images of the task options of IMAGE_OPTIONS (-T image_map=, recipes_dir=, repos_dir=, pull=, registry=,
    disk_budget_gb=)."""
    mapping: dict[str, str] = {}
    if args.get("image_map"):
        path = Path(args["image_map"]).expanduser()
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TaskError(f"-T image_map={path}: cannot read it as JSON: {exc}") from None
        if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                                    for k, v in mapping.items()):
            raise TaskError(f"-T image_map={path}: expected a JSON object of instance id -> image name")
    budget = args.get("disk_budget_gb") or 0
    if budget < 0:
        raise TaskError(f"-T disk_budget_gb={budget}: expected a size in GB, at least 0")
    folder = {k: Path(args[k]).expanduser() if args.get(k) else None for k in ("recipes_dir", "repos_dir")}
    if folder["recipes_dir"] is not None and not folder["recipes_dir"].is_dir():
        raise TaskError(f"-T recipes_dir={folder['recipes_dir']}: no such folder")
    return Images(mapping=mapping, recipes_dir=folder["recipes_dir"], repos_dir=folder["repos_dir"],
                  pull=args.get("pull", "auto") != "never", registry=args.get("registry") or "",
                  disk_budget_bytes=int(budget * 1e9) if budget else None, log=log)


def plan_instances(instances: Iterator[Any] | Sequence[Any], images: Images) -> Plan:
    """`harness plan`: one row per instance, and the budget."""
    try:
        rows = [images.plan(inst) for inst in instances]
        used = images.used_bytes()
    except SandboxError as exc:
        raise InfraError(f"cannot plan the images: {exc}") from exc
    return Plan(rows, images.budget, used)
