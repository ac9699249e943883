"""The judge model (`--judge-model`): a model adapter that graders may ask, through the store.

It is built by the same factory as the model under test, so it has the same retries and adaptive concurrency
limit; its answers are cached in the store's responses table under its own model key (a second run, or a
resumed one, asks nothing again), and that key is part of the verdict key of every sample the judge grades.
"""

from __future__ import annotations

import threading

from .inflight import InFlight
from .keys import model_key, response_key
from .models import ModelAdapter
from .store import Store
from .types import GenParams, Prompt, Request, Response, Sample

_JUDGE_SAMPLE = Sample(id="judge", inputs={})


class Judge:
    def __init__(self, adapter: ModelAdapter, params: GenParams, store: Store, in_flight: InFlight | None = None,
                 fresh: bool = False):
        self.adapter = adapter
        self.store = store
        self.in_flight = in_flight or InFlight()
        self.fresh = fresh  # --fresh: ask again, whatever the store has
        self.key = model_key(adapter.fingerprint(), params)
        self.spec = adapter.spec
        self.calls = 0  # requests that reached the model (cache misses)
        self._slots = threading.BoundedSemaphore(max(1, adapter.concurrency))

    def ask(self, prompt: Prompt, attempt: int = 0) -> Response:
        """The judge's answer to `prompt` (from the store when it was asked before). A failed call comes back
        as `Response.failed(reason)` after the adapter's bounded retries; graders make that an infra verdict."""
        pkey = prompt.key()
        rkey = response_key(self.key, pkey, attempt)
        cached = {} if self.fresh else self.store.response_texts([rkey])
        if rkey in cached:
            return Response(cached[rkey])
        with self._slots, self.in_flight.track(f"{self.spec} (judge)"):
            try:
                out = self.adapter.generate([Request(_JUDGE_SAMPLE, prompt, (attempt,))])[0][0]
            except Exception as exc:  # an adapter bug: the grader's verdict becomes infra, retried on resume
                out = Response.failed(f"judge adapter raised {type(exc).__name__}: {exc}")
            self.calls += 1
        if out.error is None:
            self.store.save_response(rkey, pkey, prompt, out)
        return out

    def close(self) -> None:
        self.adapter.close()
