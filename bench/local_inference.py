"""Throughput of the local backends on a tiny random Llama (tests/models/tiny_model.py), built offline.

hf, on the CPU: completion tokens per second by batch size (sequences per forward pass), through the
adapter and through transformers' `generate` called directly on the same left-padded prompts, so the gap is
what the adapter costs. Where vLLM and a CUDA GPU are present: the vllm adapter against `vllm.LLM.generate`
called directly on the same prompts (same token ids, same sampling parameters).

    .venv/bin/python bench/local_inference.py [--prompts 64] [--max-tokens 32] [--batch-sizes 1 4 16 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from harness.types import GenParams, Prompt, Request, Sample  # noqa: E402


def prompts(count: int) -> list[Request]:
    from tiny_model import CORPUS
    out = []
    for i in range(count):  # varied lengths, so padding and length sorting matter
        text = " ".join(CORPUS[j % len(CORPUS)] for j in range(i % 5 + 1))
        out.append(Request(Sample(str(i), {}), Prompt.chat(f"{i}: {text}"), (0,)))
    return out


def tokens(results) -> int:
    return sum(r.usage.get("completion_tokens", 0) for rs in results for r in rs)


def bench_hf(folder: Path, reqs: list[Request], max_tokens: int, batch_sizes: list[int], repeat: int) -> None:
    import torch

    from harness.models.hf import HFModel, render_prompt

    print(f"hf backend on the CPU ({torch.get_num_threads()} threads), {len(reqs)} prompts, "
          f"{max_tokens} new tokens at most, greedy, float32")
    print(f"{'batch':>5}  {'adapter tok/s':>13}  {'direct tok/s':>12}  {'adapter/direct':>14}")
    for bs in batch_sizes:
        model = HFModel(f"hf:{folder}", GenParams(max_tokens=max_tokens, extra=(("batch_size", str(bs)),)),
                        str(folder))
        model.generate(reqs[:bs])  # warm-up
        best_a = best_d = 0.0
        for _ in range(repeat):
            t0 = time.perf_counter()
            n = tokens(model.generate(reqs))
            best_a = max(best_a, n / (time.perf_counter() - t0))
            best_d = max(best_d, direct_hf(model, [render_prompt(model.tokenizer, r.prompt, model.use_template)
                                                   for r in reqs], bs, max_tokens))
        print(f"{bs:>5}  {best_a:>13.0f}  {best_d:>12.0f}  {best_a / best_d:>14.2f}")


def direct_hf(model, ids: list[list[int]], bs: int, max_tokens: int) -> float:
    """transformers' generate on the same prompts and batch size, tokenizer-padded (left), no adapter."""
    import torch

    tok, lm = model.tokenizer, model.model
    tok.padding_side = "left"
    t0, n = time.perf_counter(), 0
    for start in range(0, len(ids), bs):
        batch = tok.pad({"input_ids": ids[start:start + bs]}, return_tensors="pt")
        with torch.inference_mode():
            out = lm.generate(**batch, max_new_tokens=max_tokens, do_sample=False, pad_token_id=model.pad_id)
        for row in out[:, batch["input_ids"].shape[1]:].tolist():
            n += next((k + 1 for k, t in enumerate(row) if t in model.eos_ids), len(row))
    return n / (time.perf_counter() - t0)


def bench_vllm(folder: Path, reqs: list[Request], max_tokens: int) -> None:
    import vllm

    from harness.models.hf import render_prompt
    from harness.models.vllm_engine import VLLMModel

    params = GenParams(temperature=0.8, max_tokens=max_tokens, seed=None,
                       extra=(("gpu_memory_utilization", "0.5"), ("max_model_len", "1024")))
    adapter = VLLMModel(f"vllm:{folder}", params, str(folder))
    adapter.generate(reqs[:8])
    t0 = time.perf_counter()
    n = tokens(adapter.generate(reqs))
    through_adapter = n / (time.perf_counter() - t0)
    ids = [{"prompt_token_ids": render_prompt(adapter.tokenizer, r.prompt, adapter.use_template)} for r in reqs]
    sp = vllm.SamplingParams(temperature=0.8, max_tokens=max_tokens)
    t0 = time.perf_counter()
    outs = adapter.llm.generate(ids, sampling_params=sp, use_tqdm=False)
    direct = sum(len(c.token_ids) for o in outs for c in o.outputs) / (time.perf_counter() - t0)
    print(f"vllm, {len(reqs)} prompts: adapter {through_adapter:.0f} tok/s, vllm.LLM.generate directly {direct:.0f} "
          f"tok/s, ratio {through_adapter / direct:.2f}")
    adapter.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per batch size (best is shown)")
    ap.add_argument("--vllm-prompts", type=int, default=2048)
    args = ap.parse_args()
    try:
        from tiny_model import build_tiny_model
        import torch
    except ImportError as exc:
        sys.exit(f"needs torch, transformers and tokenizers ({exc}): pip install 'harness[hf]'")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("XDG_CACHE_HOME", str(Path(tmp) / "cache"))
        folder = build_tiny_model(Path(tmp) / "tiny")
        bench_hf(folder, prompts(args.prompts), args.max_tokens, args.batch_sizes, args.repeat)
        try:
            import vllm  # noqa: F401
        except ImportError:
            print("vllm: not installed, skipped (pip install 'harness[vllm]' on a GPU machine)")
            return
        if not torch.cuda.is_available():
            print("vllm: no CUDA GPU visible, skipped")
            return
        bench_vllm(build_tiny_model(Path(tmp) / "tiny256", hidden=256), prompts(args.vllm_prompts), 128)


if __name__ == "__main__":
    main()
