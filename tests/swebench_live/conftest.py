"""SWE-bench-Live fixtures: the task, its modules, and the toy instance's image (built once per session from a
recipe by the images helper's builder; the tag is the recipe's hash, so later sessions find it built)."""

from __future__ import annotations

from types import ModuleType

import pytest

from harness.registry import get_task
from tests.swebench_live import toyrepo

TASK = get_task("swebench-live")


def module(name: str) -> ModuleType:
    """One of the task's modules (the registry loads the task folder as a package of its own)."""
    return __import__(type(TASK).__module__ + "." + name, fromlist=["x"])


def new_task():
    return type(TASK)(TASK.folder)


@pytest.fixture(scope="session")
def toy_image(docker_client, tmp_path_factory):
    """(the toy repository, the instance, its image's tag): the image is the repository at base_commit on the
    swe base image, with Debian's pytest."""
    images, data = module("images"), module("data")
    toy = toyrepo.make_repo(tmp_path_factory.mktemp("toy") / "calc")
    inst = data.parse_row(toy.instance(), "toy")
    tag = images.build_recipe_image(images.Recipe(inst.instance_id, toy.path, toy.base_commit), client=docker_client,
                                    log=lambda msg: None)
    return toy, inst, tag
