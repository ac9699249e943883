"""`vllm:<hub id or folder>`: vLLM's offline engine (`vllm.LLM`) in this process, on NVIDIA GPUs.

Named vllm_engine so that it does not shadow the `vllm` package. vLLM is an optional extra
(`pip install 'harness[vllm]'`) that pins its own CUDA build of torch: give it its own virtual environment on
a GPU machine. Without vLLM, or without a GPU that torch can see, the adapter refuses to start and says so.

Speed: the runner hands the adapter up to `batch_size` requests per call (default 8192, `batch_size=all` for
the whole run in one call) and all of them, with all their samples, go to the engine in one `generate`
call, so vLLM schedules them itself (continuous batching, prefix caching): the harness adds tokenising and
bookkeeping only. Smaller batches make results land in the store sooner (less lost to an interruption, and
grading overlaps generation) at the cost of the engine draining between batches.

Model location, revision pins, fingerprints, chat templates and stop handling are those of the `hf` backend
(see hf.py): the prompt is tokenised here with the model's own tokenizer and chat template and handed to the
engine as token ids, so both backends see exactly the same prompt.

Options (`--model-arg KEY=VALUE`): dtype (auto | float32 | bfloat16 | float16), revision, batch_size,
trust_remote_code, chat_template (auto | none), top_k, tensor_parallel_size (GPUs to shard over, default 1),
gpu_memory_utilization (fraction of each GPU for weights and KV cache, default 0.9), max_model_len (context
length; default the model's), prefix_caching (true by default: prompts sharing a prefix, such as the n samples
of one prompt or a shared few-shot preamble, reuse its KV cache), enforce_eager (false: true skips CUDA
graph capture, starting faster and running slower).

Sampling: greedy when temperature is 0 (one sequence per prompt, copied to every index). Otherwise one engine
request with `n` = the indices asked for; with `--seed`, each index is its own request seeded from (seed,
prompt, index), so a resumed run draws exactly what an uninterrupted one would have drawn.
A prompt longer than the context fails alone (Response.failed, saying by how much); the token budget is
capped to what fits in the context.
"""

from __future__ import annotations

import gc
from typing import Any

from ..types import GenParams, Request, Response, stable_hash
from .base import ModelAdapter, ModelError, redact
from .hf import (DEFAULT_MAX_TOKENS, DTYPES, HF_KEYS, bool_option, choice_option, cut_at_stop, int_option,
                 locate_model, parse_options, render_prompt, template_fingerprint)

VLLM_KEYS = (*HF_KEYS, "tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "prefix_caching",
             "enforce_eager")
DEFAULT_BATCH = 8192
INSTALL_HINT = ("install it with `pip install 'harness[vllm]'` in a virtual environment of its own on a machine "
                "with an NVIDIA GPU (vLLM pins its own CUDA build of torch); without a GPU use hf:<model> instead")


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise ModelError(f"the vllm backend needs vLLM, which is not installed ({exc}); {INSTALL_HINT}") from exc
    return vllm


def _gpu_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class VLLMModel(ModelAdapter):
    batch_size = DEFAULT_BATCH  # requests per generate(); all go to the engine at once
    concurrency = 1  # one engine; it does its own batching

    def __init__(self, spec: str, params: GenParams, name: str):
        super().__init__(spec, params)
        opts = parse_options(params.extra, VLLM_KEYS, spec)
        vllm = _import_vllm()
        gpus = _gpu_count()
        if gpus == 0:
            raise ModelError(f"model {spec!r}: the vllm backend needs an NVIDIA GPU and torch sees none "
                             f"(check nvidia-smi and CUDA_VISIBLE_DEVICES); without a GPU use hf:{name}")
        tp = int_option(opts, "tensor_parallel_size", 1, spec) or 1
        if tp > gpus:
            raise ModelError(f"model {spec!r}: tensor_parallel_size={tp} but only {gpus} GPU(s) are visible")
        if opts.get("batch_size") == "all":
            self.batch_size = 10**9
        else:
            self.batch_size = int_option(opts, "batch_size", DEFAULT_BATCH, spec) or DEFAULT_BATCH
        self.top_k = int_option(opts, "top_k", None, spec, minimum=0)
        if opts.get("device", "cuda").split(":")[0] != "cuda":
            raise ModelError(f"model {spec!r}: the vllm backend runs on cuda only; use hf:{name} for device=cpu")
        memory = opts.get("gpu_memory_utilization", "0.9")
        try:
            utilization = float(memory)
            assert 0 < utilization <= 1
        except (ValueError, AssertionError):
            raise ModelError(f"model {spec!r}: gpu_memory_utilization={memory!r}: expected a fraction in (0, 1]") \
                from None
        self.source = locate_model(name, opts.get("revision"), spec)
        if self.source.local and "revision" in opts:
            raise ModelError(f"model {spec!r}: revision applies to hub ids only, and {name} is a local folder")
        engine_args: dict[str, Any] = {
            "model": self.source.load_ref,
            "revision": self.source.load_revision,
            "tokenizer_revision": self.source.load_revision,
            "dtype": choice_option(opts, "dtype", DTYPES, spec),
            "trust_remote_code": bool_option(opts, "trust_remote_code", False, spec),
            "tensor_parallel_size": tp,
            "gpu_memory_utilization": utilization,
            "enable_prefix_caching": bool_option(opts, "prefix_caching", True, spec),
            "enforce_eager": bool_option(opts, "enforce_eager", False, spec),
            "max_model_len": int_option(opts, "max_model_len", None, spec),
            "seed": params.seed if params.seed is not None else 0,
        }
        engine_args = {k: v for k, v in engine_args.items() if v is not None}
        template_mode = choice_option(opts, "chat_template", ("auto", "none"), spec)
        self._vllm = vllm
        try:
            self.llm = vllm.LLM(**engine_args)
        except Exception as exc:  # vLLM reports bad models, memory and CUDA trouble in many exception types
            raise ModelError(f"model {spec!r}: vLLM could not start the engine: {type(exc).__name__}: "
                             f"{redact(str(exc)).strip()[:2000]}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        self.use_template = template_mode == "auto" and bool(getattr(self.tokenizer, "chat_template", None))
        engine = getattr(self.llm, "llm_engine", None)
        model_config = getattr(engine, "model_config", None) or getattr(getattr(engine, "vllm_config", None),
                                                                         "model_config", None)
        self.max_model_len: int | None = getattr(model_config, "max_model_len", None)
        dtype = str(getattr(model_config, "dtype", engine_args["dtype"])).removeprefix("torch.")
        self._fingerprint = {"spec": spec, "backend": "vllm", "model": name, "revision": self.source.revision,
                             "dtype": dtype, "chat_template": template_fingerprint(self.tokenizer, self.use_template)}

    def fingerprint(self) -> dict[str, Any]:
        """Spec, weights revision (hub commit or folder sha256), dtype and chat template."""
        return dict(self._fingerprint)

    # --- generation ------------------------------------------------------------------------------------
    def _sampling(self, n: int, budget: int, seed: int | None) -> Any:
        p = self.params
        kwargs: dict[str, Any] = {"n": n, "max_tokens": budget, "stop": list(p.stop) or None,
                                  "temperature": p.temperature}
        if p.temperature > 0:
            if p.top_p is not None:
                kwargs["top_p"] = p.top_p
            if self.top_k:
                kwargs["top_k"] = self.top_k
            if seed is not None:
                kwargs["seed"] = seed
        return self._vllm.SamplingParams(**{k: v for k, v in kwargs.items() if v is not None})

    def _plan(self, requests: list[Request], out: list[list[Response | None]]) -> list[tuple[int, tuple[int, ...], dict, Any]]:
        """One engine request per prompt (or per index, when seeded): (request, output slots, prompt, params)."""
        p = self.params
        greedy = p.temperature == 0
        plan = []
        for ri, req in enumerate(requests):
            try:
                ids = render_prompt(self.tokenizer, req.prompt, self.use_template)
            except Exception as exc:
                out[ri] = [Response.failed(f"could not render the prompt: {type(exc).__name__}: {exc}")] * len(req.indices)
                continue
            budget = p.max_tokens or DEFAULT_MAX_TOKENS
            if self.max_model_len:
                room = self.max_model_len - len(ids)
                if room < 1:
                    out[ri] = [Response.failed(f"the prompt is {len(ids)} tokens and the context holds "
                                               f"{self.max_model_len}; raise --model-arg max_model_len if the model "
                                               f"allows it")] * len(req.indices)
                    continue
                budget = min(budget, room)
            prompt = {"prompt_token_ids": ids}
            slots = tuple(range(len(req.indices)))
            if greedy:
                plan.append((ri, slots, prompt, self._sampling(1, budget, None)))
            elif p.seed is None:
                plan.append((ri, slots, prompt, self._sampling(len(slots), budget, None)))
            else:
                pkey = req.prompt.key()
                for slot, idx in zip(slots, req.indices):
                    seed = int(stable_hash("vllm-seed", p.seed, pkey, idx)[:8], 16)
                    plan.append((ri, (slot,), prompt, self._sampling(1, budget, seed)))
        return plan

    def generate(self, requests: list[Request]) -> list[list[Response]]:
        out: list[list[Response | None]] = [[None] * len(r.indices) for r in requests]
        plan = self._plan(requests, out)
        if plan:
            try:
                results = self.llm.generate([prompt for _, _, prompt, _ in plan],
                                            sampling_params=[sp for _, _, _, sp in plan], use_tqdm=False)
            except Exception as exc:
                reason = redact(f"vLLM generation failed: {type(exc).__name__}: {exc}")
                results = None
            for k, (ri, slots, _, _) in enumerate(plan):
                if results is None:
                    for slot in slots:
                        out[ri][slot] = Response.failed(reason)
                    continue
                self._fill(out[ri], slots, results[k])
        return [[r if r is not None else Response.failed("vLLM returned no output") for r in rs] for rs in out]

    def _fill(self, target: list[Response | None], slots: tuple[int, ...], result: Any) -> None:
        completions = list(result.outputs)
        prompt_tokens = len(result.prompt_token_ids or [])
        for j, slot in enumerate(slots):
            c = completions[0] if len(completions) == 1 else completions[j] if j < len(completions) else None
            if c is None:
                target[slot] = Response.failed(f"vLLM returned {len(completions)} completions for {len(slots)}")
                continue
            text, _ = cut_at_stop(c.text, self.params.stop)
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(c.token_ids)}
            if c.finish_reason == "length":
                usage["truncated"] = 1
            target[slot] = Response(text=text, usage=usage)

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is None:
            return
        del llm
        gc.collect()
        try:
            import torch
            torch.cuda.empty_cache()
        except Exception:  # best effort: the process is usually about to end anyway
            pass
