"""Instance images: published names, recipe builds offline (from a clone, a tarball, a tree), the local mapping,
registry pulls that fail fast, the disk budget's least-recently-used removal, and `harness plan`.

Every image these tests build is a real one on the `sandboxes/swe/` base, removed at the end of its test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.sandbox.images import list_images
from harness.task import TaskError

from tests.conftest import write_jsonl

from .conftest import module

REPO_ROOT = Path(__file__).resolve().parents[2]
images = module("images")

CALC = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": "/dev/null"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def make_clone(root: Path, extra: dict[str, str | bytes] | None = None) -> tuple[Path, str]:
    """A git repository whose base commit has a bug, with a later commit (the fix, a new file) on top of it:
    an image of the base commit must hold neither."""
    root.mkdir(parents=True)
    git(root, "init", "-q")
    write_tree(root, {"calc.py": CALC, "test_calc.py": TEST, "bin/run.sh": "#!/bin/sh\necho run\n",
                      ".gitignore": "*.log\n", **(extra or {})})
    (root / "bin/run.sh").chmod(0o755)
    git(root, "add", "-A", "--force")
    git(root, "commit", "-q", "-m", "base")
    base = git(root, "rev-parse", "HEAD")
    write_tree(root, {"calc.py": CALC.replace("a - b", "a + b"), "NEWS": "fixed\n"})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the fix")
    return root, base


def in_image(client, tag: str, script: str) -> str:
    """The stdout of a bash script run in the image (read once it has exited: all of it)."""
    box = client.containers.create(tag, ["bash", "-c", script], network_disabled=True)
    try:
        box.start()
        code = box.wait(timeout=120)["StatusCode"]
        out = box.logs(stdout=True, stderr=False).decode()
        assert code == 0, (code, out, box.logs(stdout=False, stderr=True).decode())
        return out
    finally:
        box.remove(force=True)


@pytest.fixture
def built(docker_client):
    """Tags to remove at the end of the test (with any container left of them)."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        for c in docker_client.containers.list(all=True, filters={"ancestor": tag}):
            c.remove(force=True)
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # noqa: BLE001 - already removed (the budget's doing)
            pass


def inst(instance_id: str, image: str | None = None):
    return SimpleNamespace(instance_id=instance_id, image=image)


# ------------------------------------------------------------------------------------------------ names
@pytest.mark.parametrize("instance_id, name", [
    ("amoffat__sh-744", "starryzhang/sweb.eval.x86_64.amoffat_1776_sh-744:latest"),
    ("streamlink__streamlink-6535", "starryzhang/sweb.eval.x86_64.streamlink_1776_streamlink-6535:latest"),
    ("PyDicom__PyDicom-1234", "starryzhang/sweb.eval.x86_64.pydicom_1776_pydicom-1234:latest")])
def test_published_name(instance_id, name):
    assert images.published_name(instance_id) == name


def test_classic_swebench_instances_have_their_own_namespace(shared_data):
    data = module("data")
    classic = data.parse_row(json.loads((shared_data / "swebench" / "swebench_instances.jsonl").read_text()
                                        .splitlines()[0]), "swebench_instances.jsonl, row 1")
    plan = images.Images(pull=False, recipes_dir=shared_data).plan(classic)
    assert plan.tag == f"swebench/sweb.eval.x86_64.{images.instance_key(classic.instance_id)}:latest"
    assert plan.how == "missing"


def test_recipe_files_and_their_errors(tmp_path):
    good = {"instance_id": "a__b-1", "source": "b.tar.gz", "base_commit": "abc", "requirements": ["pytest==8.3.5"]}
    (tmp_path / "a__b-1.json").write_text(json.dumps(good))
    recipe = images.recipe_for("a__b-1", recipes_dir=tmp_path, repos_dir=Path("/srv/repos"))
    assert recipe.source == Path("/srv/repos/b.tar.gz") and recipe.requirements == ("pytest==8.3.5",)
    assert images.recipe_for("a__b-1", recipes_dir=tmp_path).source == tmp_path / "b.tar.gz"
    assert images.recipe_for("c__d-2", recipes_dir=tmp_path) is None
    for bad, field in [({**good, "setup": "make"}, "'setup'"), ({**good, "install_self": "yes"}, "'install_self'"),
                       ({**good, "base_commit": ""}, "'base_commit'"), ({**good, "sources": "x"}, "'sources'"),
                       ({**good, "instance_id": "x__y-9"}, "'instance_id'"), ({**good, "env": {"A-B": "1"}}, "'env'")]:
        (tmp_path / "a__b-1.json").write_text(json.dumps(bad))
        with pytest.raises(TaskError) as err:
            images.recipe_for("a__b-1", recipes_dir=tmp_path)
        assert str(err.value).startswith(f"recipe {tmp_path / 'a__b-1.json'}") and field in str(err.value)
        assert "\n" not in str(err.value)


def test_the_sh744_recipe_is_valid():
    recipe = images.recipe_for("amoffat__sh-744")
    assert recipe is not None and recipe.base_commit == "b658ce261b56c02cb8635416d310ca8f30f4dc90"
    assert recipe.source.name == "amoffat__sh-b658ce261b56c02cb8635416d310ca8f30f4dc90.tar.gz"
    assert all("==" in r for r in recipe.requirements)  # pinned: the same wheels on every machine


# ------------------------------------------------------------------------------------------------ builds
def test_build_from_a_clone_holds_base_commit_only_and_its_fingerprint_is_stable(tmp_path, docker_client, built):
    clone, base = make_clone(tmp_path / "calc", extra={"debug.log": "ignored by .gitignore, yet committed\n"})
    recipe = images.Recipe("toy__clone-1", clone, base, requirements=("iniconfig==2.0.0",))
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "toy__clone-1.json").write_text(json.dumps(
        {"instance_id": "toy__clone-1", "source": str(clone), "base_commit": base,
         "requirements": ["iniconfig==2.0.0"]}))
    imgs = images.Images(recipes_dir=tmp_path / "recipes", pull=False,
                         uses=images.UseLog(tmp_path / "uses.sqlite"), log=lambda m: None)
    before = imgs.plan(inst("toy__clone-1"))
    assert before.how == "build" and before.tag == images.recipe_tag(recipe)
    assert before.tag.startswith("harness-swe-toy_1776_clone-1:") and before.size_bytes > 0

    built.append(before.tag)
    assert imgs.ensure(inst("toy__clone-1")) == before.tag
    after = imgs.plan(inst("toy__clone-1"))
    assert after.how == "local" and after.fingerprint == before.fingerprint == f"recipe:{images.recipe_hash(recipe)}"

    out = in_image(docker_client, before.tag, "set -e; id -u; pwd; git rev-list --count HEAD; git log -1 --format=%s; "
                   "git diff HEAD --stat | wc -l; git status --porcelain | wc -l; stat -c %u /testbed /testbed/calc.py; "
                   "ls NEWS 2>&1 || true; cat calc.py; git ls-tree -r HEAD; echo PATH=$PATH; "
                   "python -c 'import iniconfig; print(iniconfig.__file__)'; python -m pytest -q -p no:cacheprovider "
                   "test_calc.py 2>&1 | tail -1; bash --version | head -1; patch --version | head -1")
    lines = out.splitlines()
    assert lines[:6] == ["65534", "/testbed", "1", f"base_commit {base}", "0", "0"]
    assert lines[6:8] == ["65534", "65534"]
    assert "No such file" in lines[8] and "return a - b" in out  # the fix (a later commit) is not there
    assert git(clone, "ls-tree", "-r", base) in out  # the same blobs and modes: the tree of base_commit
    assert "PATH=/opt/venv/bin:" in out and "/opt/venv/lib/python3.11/site-packages/iniconfig" in out
    assert "1 failed" in out and "GNU bash" in out and "GNU patch" in out
    labels = docker_client.images.get(before.tag).labels
    assert labels[images.LABEL_INSTANCE] == "1" and labels[images.LABEL_INSTANCE_ID] == "toy__clone-1"
    assert labels[images.LABEL_SWE_RECIPE_HASH] == images.recipe_hash(recipe)
    row = next(r for r in list_images() if r.tag == before.tag)  # `harness images list` shows it as it is,
    # kept by `harness images prune` (the disk budget removes instance images; `prune --all` does too)
    assert (row.recipe, row.recipe_hash, row.current) == ("swe-instance", images.recipe_hash(recipe), True)
    # the same recipe again is the same image, wherever the clone is: nothing is rebuilt
    moved = tmp_path / "moved"
    shutil.copytree(clone, moved)
    again = images.Recipe("toy__clone-1", moved, base, requirements=("iniconfig==2.0.0",))
    assert images.build_recipe_image(again, log=lambda m: pytest.fail(f"rebuilt: {m}")) == before.tag


def test_build_from_a_tarball_and_from_a_tree(tmp_path, docker_client, built):
    clone, base = make_clone(tmp_path / "calc")
    tarball = tmp_path / "calc.tar.gz"
    git(clone, "archive", "--format=tar.gz", "--prefix=calc-src/", "-o", str(tarball), base)
    tree = tmp_path / "tree"
    tree.mkdir()
    subprocess.run(["tar", "xzf", str(tarball), "-C", str(tree), "--strip-components=1"], check=True)
    quiet = lambda m: None  # noqa: E731
    env = {"GREETING": 'a $HOME "b"\\n'}
    from_tar = images.build_recipe_image(images.Recipe("toy__tar-1", tarball, base, env=env), log=quiet)
    built.append(from_tar)
    assert in_image(docker_client, from_tar, 'printf %s "$GREETING"') == env["GREETING"]
    from_tree = images.build_recipe_image(images.Recipe("toy__tree-1", tree, base), log=quiet)
    built.append(from_tree)
    want = git(clone, "ls-tree", "-r", base)
    for tag in (from_tar, from_tree):
        out = in_image(docker_client, tag, "git ls-tree -r HEAD; git diff HEAD | wc -l; git rev-list --count HEAD")
        assert out == f"{want}\n0\n1\n", tag  # the prefix folder stripped, the executable bit kept

    wrong = tmp_path / "wrong.tar.gz"
    git(clone, "archive", "--format=tar.gz", "-o", str(wrong), "HEAD")  # the fix's commit, not base_commit
    with pytest.raises(images.ImageBuildError, match="is commit .* not base_commit"):
        images.build_recipe_image(images.Recipe("toy__tar-2", wrong, base), log=quiet)


def test_a_build_failure_is_one_clear_line_with_the_logs_tail(tmp_path, docker_client):
    clone, base = make_clone(tmp_path / "calc")
    recipe = images.Recipe("toy__broken-1", clone, base, setup=("echo compiling the extension", "exit 3"))
    with pytest.raises(images.ImageBuildError) as err:
        images.build_recipe_image(recipe, log=lambda m: None)
    first, *tail = str(err.value).splitlines()
    assert first.startswith(f"building {images.recipe_tag(recipe)} for toy__broken-1 failed at Step ")
    assert "exit 3" in first and "code: 3" in first
    assert any("compiling the extension" in ln for ln in tail)
    assert not docker_client.images.list(name=images.recipe_tag(recipe).split(":")[0])


def test_no_network_at_build_time_unless_the_recipe_asks(tmp_path, docker_client, built):
    clone, base = make_clone(tmp_path / "calc")
    fetch = "python3 -c \"import urllib.request; urllib.request.urlopen('https://pypi.org/simple/iniconfig/', timeout=20)\""
    offline = images.Recipe("toy__net-1", clone, base, setup=(fetch,))
    with pytest.raises(images.ImageBuildError, match="toy__net-1 failed"):
        images.build_recipe_image(offline, log=lambda m: None)
    if not subprocess.run(["curl", "-sf", "-o", "/dev/null", "--max-time", "20", "https://pypi.org/simple/"]).returncode == 0:
        pytest.skip("the host cannot reach PyPI, so a build with the network cannot either")
    online = images.Recipe("toy__net-1", clone, base, setup=(fetch,), network=True)
    built.append(images.build_recipe_image(online, log=lambda m: None))  # the proxy's CA is trusted, if there is one


def test_two_processes_build_one_image_once(tmp_path, docker_client, built):
    clone, base = make_clone(tmp_path / "calc")
    recipe = images.Recipe("toy__race-1", clone, base, requirements=("iniconfig==2.0.0",))
    built.append(images.recipe_tag(recipe))
    code = (f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r})\n"
            f"from harness.registry import get_task\n"
            f"m = __import__(type(get_task('swebench-live')).__module__ + '.images', fromlist=['x'])\n"
            f"from pathlib import Path\n"
            f"r = m.Recipe('toy__race-1', Path({str(clone)!r}), {base!r}, requirements=('iniconfig==2.0.0',))\n"
            f"print(m.build_recipe_image(r, log=lambda s: print('LOG', s)))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert {o.splitlines()[-1] for o, _ in outs} == {images.recipe_tag(recipe)}
    assert sum(o.count("LOG building ") for o, _ in outs) == 1, outs


# ---------------------------------------------------------------------------------- mapping and registry
def test_mapping_names_the_image(tmp_path, docker_client):
    base = images.ensure_image(images.BASE_RECIPE, client=docker_client, log=lambda m: None)
    mapfile = tmp_path / "map.json"
    mapfile.write_text(json.dumps({"x__y-1": base.tag, "x__y-2": "nowhere/none:1"}))
    imgs = images.images_from_args({"image_map": str(mapfile), "pull": "never"})
    mapped = imgs.plan(inst("x__y-1"))
    assert (mapped.how, mapped.tag, mapped.fingerprint) == ("local", base.tag, base.id)
    absent = imgs.plan(inst("x__y-2"))
    assert absent.how == "missing" and "nowhere/none:1" in absent.reason and "-T pull=never" in absent.reason
    with pytest.raises(images.InfraError, match="nowhere/none:1"):
        imgs.ensure(inst("x__y-2"))
    # the data's own docker_image field works the same way; the mapping wins over it
    assert imgs.plan(inst("x__y-3", image=base.tag)).tag == base.tag
    assert imgs.plan(inst("x__y-1", image="other/image:1")).tag == base.tag
    mapfile.write_text("[1, 2]")
    with pytest.raises(TaskError, match="image_map"):
        images.images_from_args({"image_map": str(mapfile)})


def test_an_unreachable_registry_is_a_clear_missing_reason_not_a_hang(tmp_path, docker_client):
    imgs = images.Images(recipes_dir=tmp_path, uses=images.UseLog(tmp_path / "uses.sqlite"), log=lambda m: None)
    p = imgs.plan(inst("harness__nonexistent-0"))  # the probe has a time-out of its own (REGISTRY_PROBE_TIMEOUT_S)
    assert p.how == "missing" and p.tag == images.published_name("harness__nonexistent-0")
    assert ("no registry answers" in p.reason or "does not have" in p.reason) and "recipe" in p.reason
    with pytest.raises(images.InfraError, match="harness__nonexistent-0"):
        imgs.ensure(inst("harness__nonexistent-0"))


# ------------------------------------------------------------------------------------------ registry mirror
def test_a_registry_mirror_names_the_published_images_and_bad_values_are_one_line(cli):
    mirrored = images.images_from_args({"registry": "mirror.example.com:5000/hub/"})
    assert mirrored.registry == "mirror.example.com:5000/hub"
    assert images.published_name("amoffat__sh-744", registry=mirrored.registry) == \
        "mirror.example.com:5000/hub/starryzhang/sweb.eval.x86_64.amoffat_1776_sh-744:latest"
    assert images.images_from_args({}).registry == ""  # Docker Hub, as without the option
    for bad, why in [("http://mirror.example.com", "without a scheme"), ("mirror.example.com /hub", "no spaces"),
                     ("mirror", "namespace on Docker Hub")]:
        with pytest.raises(TaskError) as err:
            images.images_from_args({"registry": bad})
        assert str(err.value).startswith("-T registry=") and why in str(err.value) and "\n" not in str(err.value)
    toy_data = REPO_ROOT / "tasks" / "swebench_live" / "fixtures" / "toy" / "instances.jsonl"
    refused = cli("plan", "--task", "swebench-live", "--data", str(toy_data), "-T", "registry=http://127.0.0.1:5000",
                  ok=False)
    assert refused.exit_code == 1 and "-T registry=http://127.0.0.1:5000: expected HOST[:PORT]" in refused.output


@pytest.fixture(scope="module")
def mirror(registry, toy_image, docker_client):
    """(the registry, the toy instance, its published name on the registry): the toy image pushed there under
    that name, and the name's tag removed here (its layers stay, under the toy image's own tag), so that getting
    it is a pull.  The tag is removed again at the end."""
    _toy, inst, tag = toy_image
    name = images.published_name(inst.instance_id, registry=registry)
    repo, _, version = name.rpartition(":")
    docker_client.images.get(tag).tag(repo, version)
    try:
        errors = [c["error"] for c in docker_client.api.push(repo, version, stream=True, decode=True) if "error" in c]
        assert not errors, errors
        docker_client.images.remove(name)
        yield registry, inst, name
    finally:
        if images._find_image(docker_client, name) is not None:
            docker_client.images.remove(name)


@pytest.mark.docker
def test_published_images_pull_from_a_registry_mirror(mirror, toy_image, tmp_path, docker_client):
    registry, toy, name = mirror  # toy: the toy instance
    (tmp_path / "recipes").mkdir()  # no recipe: the toy instance has one in the task's recipes/
    uses = images.UseLog(tmp_path / "uses.sqlite")
    imgs = images.Images(registry=registry, recipes_dir=tmp_path / "recipes", uses=uses, log=lambda m: None)
    assert images._find_image(docker_client, name) is None
    before = imgs.plan(toy)
    assert (before.how, before.tag, before.fingerprint) == ("pull", name, f"pull:{name}")
    assert imgs.ensure(toy) == name
    pulled = images._find_image(docker_client, name)
    assert pulled is not None and pulled.id == docker_client.images.get(toy_image[2]).id  # what was pushed
    assert uses.rows()[name][1] is True and name in imgs.ours()  # pulled by us: the disk budget may remove it
    after = imgs.plan(toy)
    assert (after.how, after.fingerprint) == ("local", pulled.id)

    absent = imgs.plan(inst("toy__absent-1"))
    lacking = images.published_name("toy__absent-1", registry=registry)
    assert (absent.how, absent.tag) == ("missing", lacking)
    assert f"the registry does not have {lacking}" in absent.reason
    with socket.socket() as s:  # a port nothing listens on: the mirror is down, said in one line
        s.bind(("127.0.0.1", 0))
        down = f"127.0.0.1:{s.getsockname()[1]}"
    gone = images.Images(registry=down, recipes_dir=tmp_path / "recipes", uses=uses, log=lambda m: None)
    assert f"no registry answers at {down} (-T registry)" in gone.plan(inst("toy__absent-1")).reason
    docker_client.images.remove(name)


@pytest.mark.docker
def test_harness_run_pulls_from_a_registry_mirror(mirror, toy_image, cli, tmp_path, docker_client, monkeypatch):
    """The whole flow through the CLI: `harness plan` names the mirrored image, `harness run` pulls it and grades."""
    registry, _inst, name = mirror
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))  # the run's use log is this test's
    if images._find_image(docker_client, name) is not None:
        docker_client.images.remove(name)
    (tmp_path / "recipes").mkdir()
    data = write_jsonl(tmp_path / "toy.jsonl", [toy_image[0].instance()])
    common = ["--task", "swebench-live", "--data", str(data), "-T", f"registry={registry}",
              "-T", f"recipes_dir={tmp_path / 'recipes'}"]
    planned = json.loads(cli("plan", *common, "--format", "json").stdout)
    assert [(r["how"], r["tag"]) for r in planned["rows"]] == [("pull", name)]
    cli("run", *common, "-T", "test_timeout=60", "--model", "oracle", "--run-name", "mirrored")
    report = cli.report("mirrored")
    assert report["counts"]["pass"] == 1 and report["metrics"]["resolved"] == 1.0
    assert images._find_image(docker_client, name) is not None  # the run pulled it
    assert images.UseLog(tmp_path / "cache" / "swe-images.sqlite").rows()[name][1] is True
    assert not docker_client.containers.list(all=True, filters={"ancestor": name})
    docker_client.images.remove(name)


# -------------------------------------------------------------------------------------------- disk budget
def test_least_recently_used_images_go_first_and_images_in_use_stay(tmp_path, docker_client, built):
    """Four toy images of about 4 MB each (random bytes: they do not compress) under a budget of about two."""
    (tmp_path / "recipes").mkdir()
    for name in "abcde":
        clone, base = make_clone(tmp_path / name, extra={"blob.bin": os.urandom(2_000_000)})
        (tmp_path / "recipes" / f"toy__{name}-1.json").write_text(json.dumps(
            {"instance_id": f"toy__{name}-1", "source": str(clone), "base_commit": base}))
    uses = images.UseLog(tmp_path / "uses.sqlite")
    log: list[str] = []
    probe = images.Images(recipes_dir=tmp_path / "recipes", pull=False, uses=uses, log=log.append)
    tags = {n: probe.plan(inst(f"toy__{n}-1")).tag for n in "abcde"}
    built.extend(tags.values())
    probe.ensure(inst("toy__a-1"))
    size = probe.plan(inst("toy__a-1")).size_bytes
    assert 3_500_000 < size < 8_000_000
    imgs = images.Images(recipes_dir=tmp_path / "recipes", pull=False, uses=uses, log=log.append,
                         disk_budget_bytes=int(2.5 * size))

    def present() -> set[str]:
        return {n for n, t in tags.items() if images._find_image(docker_client, t) is not None}

    imgs.ensure(inst("toy__b-1"))
    time.sleep(0.01)
    imgs.touch(tags["a"])  # a is used after b: b is the least recently used
    imgs.ensure(inst("toy__c-1"))
    assert present() == {"a", "c"}
    assert any(f"removed {tags['b']}" in m for m in log)

    # a is now the least recently used, but a grade has a container of it: c goes instead
    imgs.touch(tags["c"])
    box = docker_client.containers.create(tags["a"], ["sleep", "infinity"])
    try:
        imgs.ensure(inst("toy__d-1"))
        assert present() == {"a", "d"}
    finally:
        box.remove(force=True)

    # d is leased by a grade in progress (Images.use): the older a goes, d stays
    with imgs.use(inst("toy__d-1")) as tag:
        assert tag == tags["d"]
        imgs.touch(tags["a"])
        imgs.ensure(inst("toy__e-1"))
        assert present() == {"d", "e"}
    assert uses.leased() == set()
    assert images._find_image(docker_client, images.image_tag(images.BASE_RECIPE)) is not None  # not ours to remove
    # a plan under this budget: the five images do not fit at once
    plan = images.plan_instances([inst(f"toy__{n}-1") for n in "abcde"], imgs)
    assert [r.how for r in plan.rows] == ["build", "build", "build", "local", "local"]
    assert plan.rows[0].size_bytes == size  # a's size, recorded when it was built, is the estimate now
    assert plan.fits() is False and plan.used_bytes == plan.run_bytes() - plan.needed_bytes()


# ---------------------------------------------------------------------------------------- harness plan
def test_plan_command_table_and_json(tmp_path, cli, shared_data, docker_client):
    live = shared_data / "swebench" / "live_amoffat__sh-744.raw.jsonl"
    row = json.loads(live.read_text().splitlines()[0])
    other = {**row, "instance_id": "amoffat__sh-0", "test_cmds": ["pytest"]}
    data = tmp_path / "two.jsonl"
    data.write_text(json.dumps(row) + "\n" + json.dumps(other) + "\n")
    args = ["plan", "--task", "swebench-live", "--data", str(data), "-T", "pull=never",
            "-T", f"repos_dir={shared_data / 'swebench' / 'repos'}", "-T", "disk_budget_gb=0.001"]
    out = json.loads(cli(*args, "--format", "json").stdout)
    by_id = {r["instance_id"]: r for r in out["rows"]}
    sh = by_id["amoffat__sh-744"]
    recipe = images.recipe_for("amoffat__sh-744", repos_dir=shared_data / "swebench" / "repos")
    assert sh["how"] in ("local", "build") and sh["fingerprint"] == f"recipe:{images.recipe_hash(recipe)}"
    assert by_id["amoffat__sh-0"]["how"] == "missing" and "pulls are off" in by_id["amoffat__sh-0"]["reason"]
    assert out["counts"]["missing"] == 1 and out["budget_bytes"] == 1_000_000 and out["fits"] is False
    table = cli(*args).stdout
    assert "amoffat__sh-744" in table and "missing" in table and "does not fit" in table
    limited = json.loads(cli(*args, "--limit", "1", "--format", "json").stdout)
    assert [r["instance_id"] for r in limited["rows"]] == ["amoffat__sh-744"]


def test_plan_of_a_task_without_images(cli):
    out = cli("plan", "--task", "tmbench").stdout
    assert "nothing to pull or build" in out


def test_plan_refuses_what_a_run_would_refuse(cli):
    no_subset = cli("plan", "--task", "tmbench", "--subset", "tiny", ok=False)
    assert no_subset.exit_code == 1 and "has no subset 'tiny'; its subsets:" in no_subset.output
    backwards = cli("plan", "--task", "tmbench", "--since", "2025-03-01", "--until", "2025-02-01", ok=False)
    assert backwards.exit_code == 1 and "--since 2025-03-01 is after --until 2025-02-01" in backwards.output
