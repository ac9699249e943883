"""Fixtures for the sandbox tests.

`docker_client`: a client of a Docker engine that answers.  Where none answers the test is skipped with
the reason, except under CI (HARNESS_REQUIRE_DOCKER=1), where it fails: CI must run the container tests.
"""

from __future__ import annotations

import os

import pytest

from harness.sandbox import ContainerLimits, WarmPool, engine_available, ensure_image
from harness.sandbox.engine import docker_client as _docker_client

REQUIRE_DOCKER = os.environ.get("HARNESS_REQUIRE_DOCKER") == "1"

# The container limits the protection tests run under (small, so that bombs hit them quickly).
TEST_LIMITS = ContainerLimits(memory_mb=256, cpus=1.0, pids=64, tmpfs_mb=32, shm_mb=8)


@pytest.fixture(scope="session")
def docker_client():
    ok, why = engine_available()
    if not ok:
        if REQUIRE_DOCKER:
            pytest.fail(f"HARNESS_REQUIRE_DOCKER=1 but no Docker engine answers: {why}", pytrace=False)
        pytest.skip(f"no Docker engine: {why}")
    return _docker_client()


@pytest.fixture(scope="session")
def python_image(docker_client):
    """The harness-python image (built on first use: ~1 min with mmdebstrap)."""
    return ensure_image("python", client=docker_client)


@pytest.fixture(scope="module")
def pool(python_image, docker_client):
    """A warm pool of one container shared by a module's tests (as graders share one)."""
    with WarmPool(python_image.tag, TEST_LIMITS, size=1, recycle_after=100, image_id=python_image.id,
                  client=docker_client) as p:
        p.wait_warm()
        yield p
