"""Fixtures for the sandbox tests: the harness-python image and a warm pool of it (`docker_client`, in
tests/conftest.py, skips them where no Docker engine answers)."""

from __future__ import annotations

import pytest

from harness.sandbox import ContainerLimits, WarmPool, ensure_image

# The container limits the protection tests run under (small, so that bombs hit them quickly).
TEST_LIMITS = ContainerLimits(memory_mb=256, cpus=1.0, pids=64, tmpfs_mb=32, shm_mb=8)


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
