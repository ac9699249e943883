"""Scale-out on Ray: `harness run ... --executor ray [--address ADDR] [--executor-arg KEY=VALUE]`.

The harness process stays the only driver and the only writer of the store; grading goes to one detached pool
actor per sandbox node (a node started with `--resources='{"harness_sandbox": 1}'`), which holds that node's
warm sandbox containers; local models (hf:, vllm:) generate in a generation actor with GPUs; API models stay on
the driver. Ray is an optional extra (`pip install 'harness[ray]'`): nothing here imports it until a run asks
for it, and the local executor never does.

    settings.py    --address and --executor-arg: namespace, resource, slots, in_flight, gpus, time-outs
    cluster.py     importing Ray, connecting with a hard time-out, finding the sandbox nodes
    pool_actor.py  the pool actor (one per node): opens the task with its own TaskContext, grades
    executor.py    the runner's grading stage over the pool actors: dispatch, backpressure, faults
    generation.py  the generation actor for local models
"""

from __future__ import annotations

from typing import Callable

from .settings import NAMESPACE, RESOURCE, ExecutorError, RaySettings, parse_settings

EXECUTORS = ("local", "ray")


def make_executor(address: str | None, pairs: dict[str, str] | None = None,
                  log: Callable[[str], None] | None = None):
    """A Ray executor for RunConfig.executor (it connects when the run opens). Ray missing, or a bad setting, is
    an ExecutorError now, before anything is stored."""
    from .cluster import import_ray
    from .executor import RayExecutor

    settings = parse_settings(address, pairs or {})
    import_ray()
    return RayExecutor(settings, log=log)


__all__ = ["EXECUTORS", "NAMESPACE", "RESOURCE", "ExecutorError", "RaySettings", "make_executor", "parse_settings"]
