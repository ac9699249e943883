"""SWE-bench-Live fixtures: the task, its modules, the toy instance's image (built once per session from a
recipe by the images helper's builder; the tag is the recipe's hash, so later sessions find it built), and a real
image registry on 127.0.0.1 (Debian's docker-registry) to pull published images from."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
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


REGISTRY_INSTALL = "apt-get install -y --no-install-recommends docker-registry (`make docker` does it as root)"


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """The address (127.0.0.1:PORT) of a real registry, the CNCF distribution registry Debian packages as
    docker-registry, storing in a temporary folder, for the session.  Docker speaks plain HTTP to registries on
    127.0.0.0/8 (insecure by default), so no certificate is needed.  Without the binary the tests that take it
    are skipped with what to install; under CI (HARNESS_REQUIRE_DOCKER=1) they fail instead."""
    binary = shutil.which("docker-registry")
    if binary is None:
        if os.environ.get("HARNESS_REQUIRE_DOCKER") == "1":
            pytest.fail(f"HARNESS_REQUIRE_DOCKER=1 (CI) needs a registry: {REGISTRY_INSTALL}", pytrace=False)
        pytest.skip(f"needs Debian's docker-registry: {REGISTRY_INSTALL}")
    folder = tmp_path_factory.mktemp("registry")
    with socket.socket() as s:  # a free port (nothing else takes it in the moment before the registry does)
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    config = folder / "config.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {folder / 'store'}\n"
                      f"http:\n  addr: {address}\n")
    log = folder / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy of the host's
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with direct.open(f"http://{address}/v2/", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"docker-registry on {address} did not answer GET /v2/ (exit {proc.poll()}): "
                            f"{log.read_text()[-600:]}", pytrace=False)
            time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
