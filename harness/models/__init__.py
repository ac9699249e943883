"""Model adapters, one file per backend. `make_adapter("backend:name", ...)` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..types import GenParams
from .base import ModelAdapter, ModelError

if TYPE_CHECKING:
    from ..task import Task

BACKENDS = ("openai", "anthropic", "replay", "oracle", "hf", "vllm")


def make_adapter(spec: str, params: GenParams, task: Task, base_url: str | None = None,
                 concurrency: int | None = None) -> ModelAdapter:
    backend, _, name = spec.partition(":")
    if backend == "oracle":
        from .oracle import OracleModel
        return OracleModel(spec, params, task)
    if not name:
        raise ModelError(f"model {spec!r}: expected BACKEND:NAME, e.g. openai:gpt-4o, replay:preds.jsonl, oracle")
    if backend == "replay":
        from .replay import ReplayModel
        return ReplayModel(spec, params, name)
    if backend == "openai":
        from .openai_api import OpenAIModel
        return OpenAIModel(spec, params, name, base_url=base_url, concurrency=concurrency)
    if backend == "anthropic":
        from .anthropic_api import AnthropicModel
        return AnthropicModel(spec, params, name, base_url=base_url, concurrency=concurrency)
    if backend == "hf":
        from .hf import HFModel
        return HFModel(spec, params, name)
    if backend == "vllm":
        from .vllm_engine import VLLMModel
        return VLLMModel(spec, params, name)
    raise ModelError(f"model {spec!r}: unknown backend {backend!r}; backends: {', '.join(BACKENDS)}")


__all__ = ["ModelAdapter", "ModelError", "make_adapter", "BACKENDS"]
