"""The Ray executor's bookkeeping of faults, driven without Ray: a stand-in for the `ray` module whose calls
resolve as each test says. Every answer must reach the runner's writer exactly once whatever comes back and in
whatever order (a node lost with samples in flight, a node that was only unreachable and answers after all,
a sample whose nodes keep dying, a result after Ctrl-C, a bug while collecting), and closing must not touch the
containers of a node that is alive."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

import harness.distributed.executor as executor_mod
from harness.distributed import parse_settings
from harness.distributed.executor import MAX_REQUEUES, RayExecutor, _Node, _Work


class RayError(Exception):
    pass


class RayActorError(RayError):
    pass


class ActorDiedError(RayActorError):
    pass


class ActorUnavailableError(RayActorError):
    pass


class Ref:
    """What an actor call gives back: a value, or an exception raised by `ray.get`."""

    def __init__(self, value: Any = None, exc: BaseException | None = None, call: tuple = ()):
        self.value, self.exc, self.call = value, exc, call


class FakeRay:
    exceptions = SimpleNamespace(RayError=RayError, RayActorError=RayActorError, ActorDiedError=ActorDiedError,
                                 ActorUnavailableError=ActorUnavailableError)

    def get(self, ref: Ref, timeout: float | None = None) -> Any:
        if ref.exc is not None:
            raise ref.exc
        return ref.value

    def wait(self, refs: list[Ref], num_returns: int = 1, timeout: float | None = None):
        return list(refs), []

    def kill(self, actor: Any) -> None:
        pass


class Handle:
    """A pool actor's handle: every `handle.method.remote(...)` is recorded and answers `answers[method]`."""

    def __init__(self, answers: dict[str, Any] | None = None):
        self.calls: list[tuple] = []
        self.answers = answers or {}

    def __getattr__(self, method: str):
        def remote(*args: Any) -> Ref:
            self.calls.append((method, *args))
            answer = self.answers.get(method)
            if isinstance(answer, BaseException):
                return Ref(exc=answer, call=(method, *args))
            return Ref(answer, call=(method, *args))

        return SimpleNamespace(remote=remote)


class Runner:
    """What the executor uses of harness.runner.Runner."""

    def __init__(self):
        self.written: list[tuple] = []
        self.stop = threading.Event()
        self.hurried = False
        self.lines: list[str] = []
        self.fail_next_graded = False

    def graded(self, group, answer, vkey, verdict) -> None:
        if self.fail_next_graded:
            self.fail_next_graded = False
            raise RuntimeError("a bug in the writer's hand-off")
        self.written.append(("graded", group[0], verdict))

    def not_graded(self, group, reason: str) -> None:
        self.written.append(("infra", group[0], reason))

    def log(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture
def setup(monkeypatch):
    ray = FakeRay()
    monkeypatch.setattr(executor_mod, "import_ray", lambda: ray)
    ex = RayExecutor(parse_settings(None, {}))
    runner = Runner()
    ex.runner, ex._log = runner, runner.log
    ex.key, ex.session, ex.ref, ex.args, ex.slots, ex.cap = "task-key", "run-1", "echo", {}, 2, 4
    ex.ctx = SimpleNamespace(image_id=lambda tag: "sha256:x")
    ex._connected = True
    return ex, runner, ray


def add_node(ex: RayExecutor, name: str, state: str = "ready", **answers: Any) -> _Node:
    node = _Node(name * 56, f"10.0.0.{len(ex._nodes) + 1}", Handle(answers), state=state)
    node.pid, node.host = 100 + len(ex._nodes), f"host-{name}"
    ex._nodes[node.node_id] = node
    return node


def work(i: int) -> _Work:
    item = SimpleNamespace(sample=SimpleNamespace(id=f"s{i}"), response_key=f"r{i}")
    return _Work(i, [item], answer=f"a{i}", vkey=f"v{i}")


def send(ex: RayExecutor, node: _Node, w: _Work, ref: Ref) -> Ref:
    """As _submit does, with the outcome the test chose."""
    ex._calls[ref] = (w, node)
    node.in_flight += 1
    return ref


def test_a_lost_node_s_samples_are_sent_again_and_written_once(setup):
    ex, runner, ray = setup
    a, b = add_node(ex, "a"), add_node(ex, "b")
    w1, w2 = work(1), work(2)
    r1 = send(ex, a, w1, Ref(exc=ActorDiedError("node died")))
    r2 = send(ex, a, w2, Ref(exc=ActorDiedError("node died")))
    ex._handle(ray, r1)
    ex._handle(ray, r2)
    assert a.state == "out" and a.gone == "died" and a.in_flight == 0
    assert [w.wid for w in ex._requeue] == [2, 1] and (w1.requeues, w2.requeues) == (1, 1)
    assert runner.written == [] and ex._calls == {}
    assert sum("taken out of rotation: lost (ActorDiedError)" in line for line in runner.lines) == 1
    for w in list(ex._requeue):
        ex._requeue.remove(w)
        ex._handle(ray, send(ex, b, w, Ref(("ok", f"verdict {w.wid}"))))
    assert sorted((kind, item.sample.id) for kind, item, _ in runner.written) == [("graded", "s1"), ("graded", "s2")]


def test_a_node_that_was_only_unreachable_answers_late_and_the_second_answer_is_dropped(setup):
    ex, runner, ray = setup
    a, b = add_node(ex, "a"), add_node(ex, "b")
    w = work(1)
    ex._handle(ray, send(ex, a, w, Ref(exc=ActorUnavailableError("unreachable for now"))))
    assert a.state == "out" and a.gone == "unreachable"  # it may be alive, its containers in use
    ex._requeue.popleft()
    ex._handle(ray, send(ex, b, w, Ref(("ok", "verdict from b"))))
    ex._handle(ray, send(ex, a, w, Ref(("ok", "verdict from a, late"))))  # however it could happen: dropped
    assert runner.written == [("graded", w.group[0], "verdict from b")]


def test_a_sample_whose_nodes_keep_dying_gets_one_infra_verdict(setup):
    ex, runner, ray = setup
    w = work(1)
    for i in range(MAX_REQUEUES + 1):
        node = add_node(ex, "abcdef"[i])
        ex._handle(ray, send(ex, node, w, Ref(exc=ActorDiedError("died"))))
        if i < MAX_REQUEUES:
            assert ex._requeue.popleft() is w
    assert not ex._requeue
    assert len(runner.written) == 1 and runner.written[0][0] == "infra"
    assert f"{MAX_REQUEUES + 1} times: not sent again this session" in runner.written[0][2]
    ex._handle(ray, send(ex, add_node(ex, "z"), w, Ref(("ok", "late"))))
    assert len(runner.written) == 1


def test_a_task_closed_while_idle_is_opened_again_and_the_sample_sent_again(setup):
    ex, runner, ray = setup
    a = add_node(ex, "a")
    w = work(1)
    ex._handle(ray, send(ex, a, w, Ref(("not-open", ""))))
    assert a.state == "starting" and [c[0] for c in a.handle.calls] == ["open_task"]
    assert ex._requeue.popleft() is w and w.requeues == 0 and runner.written == []


def test_a_grader_that_raised_is_an_infra_verdict_with_its_line(setup):
    ex, runner, ray = setup
    a = add_node(ex, "a")
    ex._handle(ray, send(ex, a, work(1), Ref(("raised", "ZeroDivisionError: division by zero"))))
    assert runner.written == [("infra", runner.written[0][1],
                               "grader raised ZeroDivisionError: division by zero (sample s1)")]


def test_results_after_the_feeder_gave_up_on_ctrl_c_are_dropped(setup):
    ex, runner, ray = setup
    a = add_node(ex, "a")
    ref = send(ex, a, work(1), Ref(("ok", "verdict")))
    runner.stop.set()
    runner.hurried = True  # a second Ctrl-C: no grace at all
    ex._wind_down(runner)
    ex._handle(ray, ref)
    assert runner.written == [] and a.in_flight == 0


def test_a_bug_while_collecting_gives_an_infra_verdict_not_a_lost_sample(setup):
    ex, runner, ray = setup
    a = add_node(ex, "a")
    runner.fail_next_graded = True
    ex._handle(ray, send(ex, a, work(1), Ref(("ok", "verdict"))))
    assert [(kind, item.sample.id) for kind, item, _ in runner.written] == [("infra", "s1")]
    assert "collecting its result from node" in runner.written[0][2] and a.in_flight == 0


def test_closing_closes_the_task_wherever_it_may_be_open_and_leaves_live_actors_containers_alone(setup):
    ex, runner, ray = setup
    ready = add_node(ex, "a", close_task=True, remove_left_by=0)
    slow = add_node(ex, "b", close_task=True, remove_left_by=0)  # taken out: did not open the task in time
    slow.state, slow.why_out = "out", "did not open the task within 600 s"
    dead = add_node(ex, "c")
    dead.state, dead.gone = "out", "died"
    unreachable = add_node(ex, "d", close_task=ActorUnavailableError("unreachable"))
    unreachable.state, unreachable.gone = "out", "unreachable"  # may still be alive, its containers in use
    ex.close()
    assert ("close_task", "task-key", "run-1") in ready.handle.calls
    assert ("close_task", "task-key", "run-1") in slow.handle.calls
    assert ("close_task", "task-key", "run-1") in unreachable.handle.calls
    assert dead.handle.calls == []
    # asked of the nodes in rotation that answered: the dead actor's containers by owner, the unreachable
    # one's only once its process is gone; never those of the slow one (alive, maybe serving other runs)
    assert [c for c in ready.handle.calls if c[0] == "remove_left_by"] == [
        ("remove_left_by", [(dead.host, dead.pid, True), (unreachable.host, unreachable.pid, False)])]
    assert not [c for c in slow.handle.calls + unreachable.handle.calls if c[0] == "remove_left_by"]


def test_remove_left_by_removes_a_dead_actors_containers_and_an_unreachable_ones_only_once_it_exited(monkeypatch):
    import socket
    import subprocess
    import sys

    import harness.distributed.pool_actor as pool_actor
    import harness.sandbox.engine as engine
    from harness.distributed.pool_actor import SandboxNode

    asked: list[dict] = []
    monkeypatch.setattr(engine, "remove_containers",
                        lambda only_stale=True, client=None, labels=None: asked.append(labels) or 1)
    monkeypatch.setattr(pool_actor, "EXIT_WAIT_S", 0.5)
    here = socket.gethostname()
    living = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    try:
        removed = SandboxNode.remove_left_by(None, [(here, 101, True), ("elsewhere", 102, True),
                                                    (here, living.pid, False), (here, exited.pid, False)])
    finally:
        living.kill()
        living.wait()
    assert removed == 2
    assert asked == [engine.owned_by(101, here), engine.owned_by(exited.pid, here)]
