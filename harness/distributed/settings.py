"""What `--executor ray` can be told: the cluster's address and the `--executor-arg KEY=VALUE` settings."""

from __future__ import annotations

from dataclasses import dataclass, fields

NAMESPACE = "harness"  # the Ray namespace of the pool actors (`pool-<node id>`)
RESOURCE = "harness_sandbox"  # the custom resource a sandbox node advertises (1 per node: one pool actor each)


class ExecutorError(Exception):
    """The Ray executor cannot be used as asked: Ray missing, no cluster answers, no sandbox node, a bad setting.
    The message says what to do."""


@dataclass(frozen=True)
class RaySettings:
    address: str | None = None  # None: RAY_ADDRESS or a cluster started on this machine, else a local one
    namespace: str = NAMESPACE
    resource: str = RESOURCE
    slots: int | None = None  # samples graded at once per node (and its sandbox pool's size); None: --grade-workers
    in_flight: int | None = None  # samples sent to one node and not yet answered; None: twice its slots
    gpus: float = 1.0  # GPUs of the generation actor for local models (hf:, vllm:); 0 runs it on CPUs
    connect_timeout: float = 60.0  # seconds for ray.init to reach the cluster
    start_timeout: float = 600.0  # seconds for a pool actor to start and open the task (may build an image)
    idle_close: float = 900.0  # a pool actor closes a task (its containers) unused for this long

    def node_slots(self, grade_workers: int) -> int:
        return self.slots or grade_workers

    def node_in_flight(self, grade_workers: int) -> int:
        return self.in_flight or 2 * self.node_slots(grade_workers)


_HELP = {
    "namespace": "Ray namespace of the pool actors",
    "resource": "custom resource that marks a sandbox node",
    "slots": "samples graded at once per node",
    "in_flight": "samples queued per node",
    "gpus": "GPUs of the generation actor (0: CPU)",
    "connect_timeout": "seconds to reach the cluster",
    "start_timeout": "seconds for a node to open the task",
    "idle_close": "seconds before an unused task's containers are closed",
}


_POSITIVE = ("slots", "in_flight", "connect_timeout", "start_timeout", "idle_close")


def parse_settings(address: str | None, pairs: dict[str, str]) -> RaySettings:
    """Settings from `--address` and the `--executor-arg` pairs; an unknown key or a bad value is an
    ExecutorError naming it and listing the known ones."""
    known = {f.name: f for f in fields(RaySettings) if f.name != "address"}
    values: dict[str, object] = {"address": address or None}
    for key, raw in pairs.items():
        if key not in known:
            listing = ", ".join(f"{k} ({v})" for k, v in _HELP.items())
            raise ExecutorError(f"--executor-arg {key}: unknown setting; the Ray executor takes {listing}")
        kind = {"int | None": int, "float": float, "str": str}.get(str(known[key].type), str)
        try:
            value = kind(raw)
        except ValueError:
            raise ExecutorError(f"--executor-arg {key}={raw}: expected {kind.__name__}") from None
        if kind is not str and (value < 0 or (value == 0 and key in _POSITIVE)):
            raise ExecutorError(f"--executor-arg {key}={raw}: must be {'positive' if key in _POSITIVE else '>= 0'}")
        values[key] = value
    return RaySettings(**values)
