"""The harness-reval image recipe: the runner is the harness's own, and the image has what the programs import."""

from __future__ import annotations

from harness.sandbox.images import common_dir, context_files, packages

import pytest


def test_the_runner_is_the_shared_one():
    assert context_files("reval")["runner.py"] == common_dir() / "runner.py"
    assert context_files("reval")["runner.py"] == context_files("python")["runner.py"]


def test_packages_cover_the_classeval_imports():
    assert {"python3", "python3-numpy", "python3-gensim", "python3-bs4", "python3-lxml",
            "python3-dateutil"} <= set(packages("reval"))


@pytest.mark.docker
def test_image_imports(opened):
    from harness.sandbox import RunLimits

    pool = opened().grader.pool()
    result = pool.run(["python3", "-c", "import numpy, gensim, bs4, lxml, dateutil; print(numpy.__version__)"],
                      limits=RunLimits(timeout_s=60))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().startswith("1."), "REval's ClassEval programs need numpy < 2 (np.mat)"
