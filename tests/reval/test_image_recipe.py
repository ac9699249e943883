"""The harness-reval image recipe: the runner is the harness's own, and the image has what the programs import."""

from __future__ import annotations

from harness.sandbox.images import packages, recipe_dir

import pytest

from .conftest import require_engine


def test_runner_is_the_python_recipes_runner():
    ours = (recipe_dir("reval") / "runner.py").read_bytes()
    assert ours == (recipe_dir("python") / "runner.py").read_bytes(), \
        "sandboxes/reval/runner.py differs from sandboxes/python/runner.py: copy it over"


def test_packages_cover_the_classeval_imports():
    assert {"python3", "python3-numpy", "python3-gensim", "python3-bs4", "python3-lxml",
            "python3-dateutil"} <= set(packages("reval"))


@pytest.mark.docker
def test_image_imports(opened):
    require_engine()
    from harness.sandbox import RunLimits

    pool = opened().grader.pool()
    result = pool.run(["python3", "-c", "import numpy, gensim, bs4, lxml, dateutil; print(numpy.__version__)"],
                      limits=RunLimits(timeout_s=60))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().startswith("1."), "REval's ClassEval programs need numpy < 2 (np.mat)"
