"""Local models (`hf:`, `vllm:`) under --executor ray: the adapter is built in a generation actor with `gpus` GPUs
(`--executor-arg gpus=N`, default 1; 0 runs it on a node's CPUs), by the same factory as a local run, and
answers `generate(batch)`. API models stay on the driver. The driver sees an ordinary adapter whose
fingerprint, batch size and concurrency are the remote one's, so response keys are the same as a local
run's. The actor is the driver's (not detached): it ends with the run."""

from __future__ import annotations

import os
from typing import Any

from ..models.base import ModelAdapter, ModelError
from ..types import GenParams, Request, Response
from .cluster import import_ray

LOCAL_BACKENDS = ("hf", "vllm")


class GenerationWorker:
    """Made into a Ray actor by RemoteModel."""

    def __init__(self, spec: str, params: GenParams):
        from ..models import make_adapter

        self.adapter = make_adapter(spec, params, None)

    def describe(self) -> dict[str, Any]:
        import ray

        a = self.adapter
        return {"fingerprint": a.fingerprint(), "batch_size": a.batch_size, "concurrency": a.concurrency,
                "node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}

    def generate(self, requests: list[Request]) -> list[list[Response]]:
        return self.adapter.generate(requests)

    def close(self) -> None:
        self.adapter.close()


class RemoteModel(ModelAdapter):
    def __init__(self, spec: str, params: GenParams, *, gpus: float, start_timeout: float):
        super().__init__(spec, params)
        ray = import_ray()
        actor_cls = ray.remote(GenerationWorker)
        self.actor = actor_cls.options(num_gpus=gpus, num_cpus=1, max_concurrency=1, max_restarts=0,
                                       max_task_retries=0).remote(spec, params)
        try:
            d = ray.get(self.actor.describe.remote(), timeout=start_timeout)
        except ray.exceptions.GetTimeoutError:
            ray.kill(self.actor)
            raise ModelError(f"model {spec!r}: no Ray node took its generation actor ({gpus:g} GPU(s), 1 CPU) "
                             f"within {start_timeout:.0f} s: is there a node with free GPUs? (`ray status`; "
                             f"--executor-arg gpus=0 runs it on CPUs)") from None
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None) or exc
            raise ModelError(f"model {spec!r} could not be loaded in its Ray generation actor: "
                             f"{str(cause).strip().splitlines()[0] if str(cause).strip() else repr(cause)}") from None
        self._fingerprint = d["fingerprint"]
        self.batch_size, self.concurrency = d["batch_size"], d["concurrency"]
        self.node_id = d["node_id"]

    def fingerprint(self) -> dict[str, Any]:
        return self._fingerprint

    def generate(self, requests: list[Request]) -> list[list[Response]]:
        ray = import_ray()
        return ray.get(self.actor.generate.remote(requests))  # a lost actor raises: the runner makes it infra

    def close(self) -> None:
        ray = import_ray()
        if ray.is_initialized():
            try:
                ray.kill(self.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
