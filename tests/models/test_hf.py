"""The `hf` backend on a tiny random Llama built here (tiny_model.py), loaded offline through from_pretrained
on the CPU: options, batching with left padding, n samples, stops, fingerprints, failures, and a whole run
through the CLI with resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the hf backend needs torch: pip install 'harness[hf]' (not installed)")
pytest.importorskip("transformers", reason="the hf backend needs transformers: pip install 'harness[hf]'")
pytest.importorskip("tokenizers", reason="building the tiny test model needs tokenizers: pip install 'harness[hf]'")

from click.testing import CliRunner  # noqa: E402

from harness.cli import main  # noqa: E402
from harness.models import ModelError, make_adapter  # noqa: E402
from harness.models.hf import HFModel, cut_at_stop, folder_digest  # noqa: E402
from harness.types import GenParams, Prompt, Request, Sample  # noqa: E402
from tiny_model import build_tiny_model  # noqa: E402

PROMPTS = ["def add(a, b):", "You simulate a tag system.", "### Step 0:\n- Queue State: [a b c] and then more text",
           "x"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tiny_plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_plain") / "model", chat_template=False)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the weights-digest memo


def adapter(folder: Path, **kw) -> HFModel:
    extra = tuple(sorted(kw.pop("extra", {}).items()))
    params = GenParams(**{"max_tokens": 8, **kw}, extra=extra)
    return HFModel(f"hf:{folder}", params, str(folder))


def req(text: str, n: int = 1, sample_id: str = "s") -> Request:
    return Request(Sample(sample_id, {}), Prompt.chat(text, system="Be brief."), tuple(range(n)))


def texts(model: HFModel, prompts: list[str], n: int = 1) -> list[list[str]]:
    return [[r.text for r in rs] for rs in model.generate([req(p, n, str(i)) for i, p in enumerate(prompts)])]


def test_loads_and_generates_one_response_per_index(tiny: Path) -> None:
    model = adapter(tiny)
    assert model.concurrency == 1 and model.batch_size >= 64
    out = model.generate([req("def add(a, b):", 3), Request(Sample("t", {}), Prompt.chat("x"), (4, 7))])
    assert [len(rs) for rs in out] == [3, 2]
    for rs in out:
        for r in rs:
            assert r.error is None and isinstance(r.text, str)
            assert 0 < r.usage["completion_tokens"] <= 8 and r.usage["prompt_tokens"] > 0
    assert len({r.text for r in out[0]}) == 1  # greedy: every index gets the same answer


def test_left_padded_batches_match_one_at_a_time(tiny: Path) -> None:
    batched = texts(adapter(tiny, extra={"batch_size": "4"}), PROMPTS)
    single = texts(adapter(tiny, extra={"batch_size": "1"}), PROMPTS)
    assert batched == single


def test_chat_template_is_used_when_present_and_can_be_turned_off(tiny: Path, tiny_plain: Path) -> None:
    with_template = adapter(tiny)
    assert with_template.use_template
    assert with_template.fingerprint()["chat_template"].startswith("sha256:")
    ids = with_template.tokenizer.decode(
        __import__("harness.models.hf", fromlist=["render_prompt"]).render_prompt(
            with_template.tokenizer, Prompt.chat("hi", system="sys"), True))
    assert ids.endswith("<|assistant|>\n") and "<|system|>" in ids
    off = adapter(tiny, extra={"chat_template": "none"})
    assert not off.use_template and off.fingerprint()["chat_template"] == "none"
    assert not adapter(tiny_plain).use_template  # no template in the tokenizer: the plain text


def test_sampling_is_seeded_and_gives_different_samples(tiny: Path) -> None:
    first = texts(adapter(tiny, temperature=1.0, seed=7, max_tokens=12), ["def add(a, b):"], n=4)
    again = texts(adapter(tiny, temperature=1.0, seed=7, max_tokens=12, top_p=0.95), ["def add(a, b):"], n=4)
    assert len(set(first[0])) > 1
    assert first == texts(adapter(tiny, temperature=1.0, seed=7, max_tokens=12), ["def add(a, b):"], n=4)
    assert len(again[0]) == 4


def test_stop_sequences_cut_the_text(tiny: Path) -> None:
    plain = texts(adapter(tiny, max_tokens=16), ["def add(a, b):"])[0][0]
    assert len(plain) >= 4, plain
    stop = plain[2:4]
    stopped = adapter(tiny, max_tokens=16, stop=(stop,)).generate([req("def add(a, b):")])[0][0]
    assert stopped.text == plain[: plain.find(stop)]
    assert stopped.usage["completion_tokens"] <= 16 and "truncated" not in stopped.usage
    assert cut_at_stop("abcXdefY", ("Y", "X")) == ("abc", True)
    assert cut_at_stop("abc", ("Z", "")) == ("abc", False)


def test_token_budget_marks_truncation(tiny: Path) -> None:
    r = adapter(tiny, max_tokens=3).generate([req("def add(a, b):")])[0][0]
    assert r.usage["completion_tokens"] <= 3
    if r.usage["completion_tokens"] == 3:
        assert r.usage.get("truncated") == 1


def test_fingerprint_follows_the_weights(tiny: Path, tmp_path: Path) -> None:
    fp = adapter(tiny).fingerprint()
    assert fp["revision"].startswith("sha256:") and fp["dtype"] == "float32" and fp["backend"] == "hf"
    assert adapter(tiny).fingerprint() == fp  # stable (and memoised) across loads
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert folder_digest(other) != folder_digest(tiny)
    assert adapter(tiny, extra={"dtype": "bfloat16"}).fingerprint()["dtype"] == "bfloat16"


def test_backend_failure_becomes_failed_responses(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = adapter(tiny)

    def boom(*a, **k):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")

    monkeypatch.setattr(model.model, "generate", boom)
    out = model.generate([req("a", 2), req("b")])
    assert [len(rs) for rs in out] == [2, 1]
    assert all(r.error and "lower --model-arg batch_size" in r.error for rs in out for r in rs)


@pytest.mark.parametrize("name, extra, message", [
    ("nobody-here/no-such-model", {}, "is not in the local cache and offline"),
    ("./no/such/folder", {}, "no such folder"),
    ("TINY", {"dtype": "float64"}, "expected one of auto, float32"),
    ("TINY", {"batchsize": "4"}, "unknown --model-arg batchsize"),
    ("TINY", {"revision": "main"}, "revision applies to hub ids only"),
    ("TINY", {"device": "cuda:0"} if not torch.cuda.is_available() else {"device": "tpu"}, "device"),
])
def test_clear_errors_at_construction(tiny: Path, name: str, extra: dict, message: str) -> None:
    name = str(tiny) if name == "TINY" else name
    params = GenParams(extra=tuple(extra.items()))
    with pytest.raises(ModelError) as info:
        make_adapter(f"hf:{name}", params, task=None)  # type: ignore[arg-type]
    assert message in str(info.value), str(info.value)


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="has no config.json"):
        make_adapter(f"hf:{tmp_path / 'empty'}", GenParams(), task=None)  # type: ignore[arg-type]


def test_end_to_end_run_and_resume(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = HFModel.generate

    def counting(self, requests):
        calls.append(len(requests))
        return real(self, requests)

    monkeypatch.setattr(HFModel, "generate", counting)
    store = str(tmp_path / "s.sqlite")
    args = ["--store", store, "run", "--task", "tmbench", "--model", f"hf:{tiny}", "--limit", "2",
            "--max-tokens", "16", "--samples", "2", "--temperature", "0.8", "--seed", "3"]
    first = CliRunner().invoke(main, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert sum(calls) == 2
    report = CliRunner().invoke(main, ["--store", store, "report", "--format", "json"], catch_exceptions=False)
    data = json.loads(report.output)
    counts = data["counts"]
    assert counts.get("infra", 0) == 0 and counts.get("pass", 0) == 0
    assert counts.get("fail", 0) + counts.get("error", 0) == 4, counts
    fp = data["record"]["model"]["fingerprint"]
    assert fp["revision"].startswith("sha256:") and fp["backend"] == "hf"

    second = CliRunner().invoke(main, args, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert sum(calls) == 2  # nothing generated again
    assert "4 attempts were already done" in second.stderr

    # another run name, same model and parameters: every response comes from the cache
    third = CliRunner().invoke(main, [*args, "--run-name", "again"], catch_exceptions=False)
    assert third.exit_code == 0, third.output
    assert sum(calls) == 2


def test_hub_id_loads_offline_from_the_cache_pinned_to_its_commit(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub id resolves (offline) through the cache's refs to a commit; that commit is loaded and is the
    fingerprint's revision. A revision the cache lacks is a clear error naming the download command."""
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny"
    build_tiny_model(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    model = HFModel("hf:someone/tiny", GenParams(max_tokens=4), "someone/tiny")
    assert model.fingerprint()["revision"] == commit
    assert model.generate([req("x")])[0][0].error is None
    with pytest.raises(ModelError, match=r"not in the local cache .*hf download someone/tiny --revision v2"):
        HFModel("hf:someone/tiny", GenParams(extra=(("revision", "v2"),)), "someone/tiny")
