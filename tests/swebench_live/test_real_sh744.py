"""The real SWE-bench-Live instance amoffat__sh-744 in an image built offline from its recipe
(tasks/swebench_live/recipes/amoffat__sh-744.json: the repository tarball of ../shared/data, wheels downloaded on the
host): the gold patch resolves the test its test patch adds, the empty patch does not.

Slow (an image build the first time, about 10 s; then two short runs of one test), and CI runs it. The image is
kept, labelled as an instance image, for test_validate.py's derivation and later sessions (the same recipe gives
the same tag)."""

from __future__ import annotations

import json
import time

import pytest

from harness.task import LoadOptions

from tests.conftest import SHARED_DATA

from .conftest import TASK, module
from .test_images import in_image

images, evaluate, data = module("images"), module("evaluate"), module("data")
F2P = "tests/sh_test.py::FunctionalTests::test_async_return_cmd"
REPOS = SHARED_DATA / "swebench" / "repos"

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.shared_data]


@pytest.fixture(scope="module")
def sh744(docker_client):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark data not found at {SHARED_DATA} (only CI and developers have ../shared)")
    raw = SHARED_DATA / "swebench" / "live_amoffat__sh-744.raw.jsonl"
    task = type(TASK)(TASK.folder)
    args = task.parse_args({"repos_dir": str(REPOS), "pull": "never"})
    inst = data.instance_of(next(task.samples(LoadOptions(data=str(raw), args=args))))
    imgs = images.images_from_args(args, log=lambda m: print(m))
    started = time.monotonic()
    tag = imgs.ensure(inst)  # built offline unless a session before this one built it
    print(f"\nsh-744 image {tag}: ready in {time.monotonic() - started:.1f} s")
    return inst, tag, json.loads(raw.read_text().splitlines()[0])


def test_the_recipe_gives_the_test_command_and_the_image_the_contract(sh744, docker_client):
    inst, tag, _row = sh744
    assert inst.test_cmds == ("SH_TESTS_RUNNING=1 pytest -rA tests/sh_test.py",)
    assert tag == images.recipe_tag(images.recipe_for(inst.instance_id, repos_dir=REPOS))
    out = in_image(docker_client, tag, "id -u; git log --format=%s; git status --porcelain | grep -v '^??' | wc -l; "
                   "python -c 'import sh, pytest; print(sh.__file__, pytest.__version__)'")
    assert out.splitlines() == ["65534", f"base_commit {inst.base_commit}", "0", "/testbed/sh.py 7.4.0"]


@pytest.mark.parametrize("which, resolved", [("gold", True), ("empty", False)])
def test_gold_resolves_and_the_empty_patch_does_not(sh744, which, resolved):
    inst, tag, row = sh744
    patch = row["patch"] if which == "gold" else ""
    started = time.monotonic()
    out = evaluate.run_instance(tag, inst, patch, tests=[F2P], timeout_s=600)
    print(f"\nsh-744 {which}: exit {out.exit_code} in {time.monotonic() - started:.1f} s, phases {out.phases}")
    assert out.applied and not out.timed_out
    assert (out.exit_code == 0) is resolved, out.log_tail
    assert out.tests == {F2P: "passed" if resolved else "failed"}, out.log_tail
