"""Recipe-hashed images, container labels and clean-up, the one-container-per-instance mode."""

from __future__ import annotations

import pytest

from harness.sandbox import Ending, InstanceSandbox, RunLimits, images, remove_containers
from harness.sandbox.engine import LABEL, LABEL_OWNER_HOST, LABEL_OWNER_PID

pytestmark = pytest.mark.docker


def test_image_is_tagged_by_recipe_hash_and_not_rebuilt(python_image, docker_client):
    assert python_image.tag == f"harness-python:{images.recipe_hash('python')}"
    again = images.ensure_image("python", client=docker_client)
    assert again.id == python_image.id and not again.built_now
    assert python_image.id.startswith("sha256:")
    rows = {r.tag: r for r in images.list_images(docker_client)}
    assert rows[python_image.tag].current and rows[images.base_tag("python")].current


def test_image_has_python_valgrind_and_the_runner(python_image, docker_client):
    out = docker_client.containers.run(python_image.tag, ["sh", "-c", "python3 -V; valgrind --version; "
                                       "ls /opt/harness; id -u"], remove=True, network_mode="none")
    text = out.decode()
    assert "Python 3.11" in text and "valgrind-3" in text and "runner.py" in text and "65534" in text


def test_leftover_containers_of_a_dead_harness_are_removed(python_image, docker_client):
    import socket

    c = docker_client.containers.create(python_image.tag, ["sleep", "60"], labels={
        LABEL: "1", LABEL_OWNER_PID: "999999999", LABEL_OWNER_HOST: socket.gethostname()})
    assert remove_containers(only_stale=True, client=docker_client) >= 1
    left = [x.id for x in docker_client.containers.list(all=True, sparse=True, filters={"label": f"{LABEL}=1"})]
    assert c.id not in left


def test_instance_sandbox_is_hardened_and_stops_at_the_deadline(python_image, docker_client):
    with InstanceSandbox(python_image.tag, client=docker_client) as box:
        r = box.run(["python3", "t.py"], files={"t.py": "import os, socket\nprint(os.getuid(), "
                                                        "[i[1] for i in socket.if_nameindex()])\n"
                                                        "open('/x', 'w')"})
        assert r.stdout == "65534 ['lo']\n" and "Read-only file system" in r.stderr
        r = box.run(["sleep", "30"], limits=RunLimits(timeout_s=1))
        assert r.ending is Ending.TIMED_OUT and r.wall_s < 5


def test_cli_lists_builds_and_cleans_up(docker_client, python_image):
    from click.testing import CliRunner

    from harness.cli import main

    listed = CliRunner().invoke(main, ["images", "list"])
    assert listed.exit_code == 0 and python_image.tag in listed.output and "current" in listed.output
    built = CliRunner().invoke(main, ["images", "build", "python"])
    assert built.exit_code == 0 and "up to date" in built.output
    cleaned = CliRunner().invoke(main, ["sandbox", "cleanup"])
    assert cleaned.exit_code == 0 and "removed" in cleaned.output
