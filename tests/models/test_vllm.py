"""The `vllm` backend. Where vLLM is missing, the adapter must refuse with an error that says how to get it
(tested everywhere); the engine tests run only where vLLM and a CUDA GPU are present, and skip saying so."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from harness.models import ModelError, make_adapter
from harness.types import GenParams, Prompt, Request, Sample

HAVE_VLLM = importlib.util.find_spec("vllm") is not None


def _gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


needs_engine = pytest.mark.skipif(
    not (HAVE_VLLM and _gpu()),
    reason="vLLM engine tests need the vllm package and a CUDA GPU "
           f"(vllm {'installed' if HAVE_VLLM else 'not installed'}; no GPU visible or torch missing)"
    if not (HAVE_VLLM and _gpu()) else "")


@pytest.mark.skipif(HAVE_VLLM, reason="vLLM is installed here: the missing-package message cannot be seen")
def test_without_vllm_the_error_says_how_to_get_it() -> None:
    with pytest.raises(ModelError) as info:
        make_adapter("vllm:Qwen/Qwen2.5-0.5B", GenParams(), task=None)  # type: ignore[arg-type]
    message = str(info.value)
    assert "needs vLLM" in message and "harness[vllm]" in message and "hf:<model>" in message


def test_unknown_option_is_refused_before_anything_loads() -> None:
    with pytest.raises(ModelError, match="unknown --model-arg tensor_parallel"):
        make_adapter("vllm:x/y", GenParams(extra=(("tensor_parallel", "2"),)), task=None)  # type: ignore[arg-type]


@pytest.mark.skipif(not HAVE_VLLM, reason="needs the vllm package to get past the import check")
def test_without_gpu_the_error_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.models.vllm_engine as engine
    monkeypatch.setattr(engine, "_gpu_count", lambda: 0)
    with pytest.raises(ModelError, match="needs an NVIDIA GPU"):
        make_adapter("vllm:x/y", GenParams(), task=None)  # type: ignore[arg-type]


# --- on a GPU with vLLM -----------------------------------------------------------------------------------
ENGINE_ARGS = (("enforce_eager", "true"), ("gpu_memory_utilization", "0.25"), ("max_model_len", "512"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_model import build_tiny_model
    # head size 64: every vLLM attention backend supports it
    return build_tiny_model(tmp_path_factory.mktemp("vllm") / "model", hidden=256)


def req(text: str, n: int = 1, sid: str = "s") -> Request:
    return Request(Sample(sid, {}), Prompt.chat(text), tuple(range(n)))


@needs_engine
def test_engine_generates_n_samples_with_stops_and_seeds(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    greedy = make_adapter(f"vllm:{tiny}", GenParams(max_tokens=12, extra=ENGINE_ARGS), task=None)  # type: ignore
    try:
        out = greedy.generate([req("def add(a, b):", 3), req("x", 1, "t")])
        assert [len(rs) for rs in out] == [3, 1]
        assert all(r.error is None and r.usage["completion_tokens"] <= 12 for rs in out for r in rs)
        assert len({r.text for r in out[0]}) == 1
        fp = greedy.fingerprint()
        assert fp["backend"] == "vllm" and fp["revision"].startswith("sha256:")
        text = out[0][0].text
        if len(text) >= 4:
            greedy.params = GenParams(max_tokens=12, stop=(text[2:4],), extra=ENGINE_ARGS)
            cut = greedy.generate([req("def add(a, b):")])[0][0].text
            assert cut == text[: text.find(text[2:4])]
        greedy.params = GenParams(temperature=1.0, seed=5, max_tokens=12, extra=ENGINE_ARGS)
        first = [r.text for r in greedy.generate([req("def add(a, b):", 4)])[0]]
        resumed = [r.text for r in greedy.generate([Request(Sample("s", {}), Prompt.chat("def add(a, b):"), (2, 3))])[0]]
        assert resumed == first[2:]  # per-index seeds: a resumed run draws what the whole run drew
    finally:
        greedy.close()


@needs_engine
def test_engine_end_to_end_run(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from harness.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = str(tmp_path / "s.sqlite")
    args = ["--store", store, "run", "--task", "tmbench", "--model", f"vllm:{tiny}", "--limit", "2",
            "--max-tokens", "16", *[a for k, v in ENGINE_ARGS for a in ("--model-arg", f"{k}={v}")]]
    first = CliRunner().invoke(main, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    data = json.loads(CliRunner().invoke(main, ["--store", store, "report", "--format", "json"]).output)
    assert data["counts"].get("infra", 0) == 0 and data["counts"].get("fail", 0) + data["counts"].get("error", 0) == 2
