"""Retries and rate limits for the API adapters (openai, anthropic): shared so both behave the same way.

- `RetryPolicy`: how many attempts, how long to back off between them, how long one request may take.
  Settable per run with `--model-arg` keys: `max_retries` (retries after the first attempt; default 5,
  so 6 attempts), `backoff` (first wait in seconds, default 1, doubling per retry), `backoff_max` (cap on
  one wait, default 60), `timeout` (seconds per request, default 120: a hung endpoint is retried, then
  reported, within minutes; raise it for long reasoning answers).
- `AdaptiveLimit`: how many requests may be in flight. It starts at the configured maximum, halves on a
  rate-limit answer (down to 1) and creeps back up by about one slot per `limit` successes (AIMD, as TCP
  does), so a run slows itself down instead of hammering a provider that is shedding load.
- `call_with_retries`: runs one request under both, and turns the final failure into a `GiveUp` whose
  reason the adapter hands to the runner as `Response.failed(reason)` (an infra verdict, retried on resume).

Waits honour the server's `Retry-After` (seconds or an HTTP date) and `retry-after-ms`; a server that asks
for longer than `retry_after_max` (default 300 s; usually an exhausted quota) is not waited for: the
attempt gives up with a reason that says so, and the next `harness run` retries it.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Iterator, Mapping, TypeVar

from .base import ModelError, redact

log = logging.getLogger("harness.models")

T = TypeVar("T")

# --model-arg keys that configure the transport; adapters must not forward them to the provider.
POLICY_KEYS = ("max_retries", "backoff", "backoff_max", "timeout", "retry_after_max")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    timeout: float = 120.0
    retry_after_max: float = 300.0

    @property
    def attempts(self) -> int:
        return self.max_retries + 1

    @classmethod
    def from_extra(cls, extra: Mapping[str, str]) -> "RetryPolicy":
        """The policy with any `--model-arg` overrides applied; a bad value is a ModelError naming the key."""
        values: dict[str, float | int] = {}
        for key in POLICY_KEYS:
            if key not in extra:
                continue
            raw = extra[key]
            try:
                value: float | int = int(raw) if key == "max_retries" else float(raw)
            except ValueError:
                kind = "a whole number" if key == "max_retries" else "a number of seconds"
                raise ModelError(f"--model-arg {key}={raw!r}: expected {kind}") from None
            if value < 0 or (key == "timeout" and value == 0):
                raise ModelError(f"--model-arg {key}={raw!r}: must be {'positive' if key == 'timeout' else '>= 0'}")
            values[key] = value
        return cls(**values)  # type: ignore[arg-type]

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry): exponential backoff with
        jitter (half fixed, half random, so clients that failed together do not retry together), and never
        less than what the server asked for."""
        step = min(self.backoff_max, self.backoff * 2 ** (retry - 1))
        wait = step / 2 + (rng or random).uniform(0, step / 2)
        return max(wait, retry_after or 0.0)


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class Failure:
    """What went wrong with one attempt, and what to do about it."""

    reason: str
    retryable: bool
    rate_limited: bool = False
    retry_after: float | None = None


class MalformedResponse(Exception):
    """The provider answered 2xx with something unusable (no choices, no content): worth another try."""


class GiveUp(Exception):
    """No more attempts: `reason` (already redacted) says what went wrong and what to do."""

    def __init__(self, reason: str, attempts: int):
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


# Status codes worth retrying besides 429 and 5xx: request timeout, conflict (a lock timeout at OpenAI).
RETRYABLE_4XX = (408, 409)
STATUS_HINTS = {
    400: "the provider rejected the request; check the model name and --model-arg values",
    401: "check {key}",
    402: "the account needs billing set up",
    403: "the key has no access to this model or endpoint; check {key}",
    404: "no such model or endpoint; check the model name and --base-url",
    413: "the prompt is too large for this model",
    422: "the provider rejected the request's parameters",
}


def status_failure(status: int, message: str, headers: Mapping[str, str] | None, key_name: str) -> Failure:
    """Classify an HTTP error answer. `message` is the provider's own text (it is redacted later)."""
    phrase = _phrase(status)
    if status == 429:
        return Failure(f"429 {phrase}: {message}", retryable=True, rate_limited=True,
                       retry_after=parse_retry_after(headers))
    if status == 529:  # Anthropic's "overloaded": back off as for a rate limit
        return Failure(f"529 Overloaded: {message}", retryable=True, rate_limited=True,
                       retry_after=parse_retry_after(headers))
    if status >= 500 or status in RETRYABLE_4XX:
        return Failure(f"{status} {phrase}: {message}", retryable=True, retry_after=parse_retry_after(headers))
    hint = STATUS_HINTS.get(status, "the provider refused the request")
    return Failure(f"{status} {phrase}: {hint.format(key=key_name)} ({message})", retryable=False)


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def classify_sdk_error(exc: Exception, sdk: ModuleType, key_name: str, timeout: float) -> Failure:
    """Classify an exception from the `openai` or `anthropic` client (they share their error classes' shapes)."""
    if isinstance(exc, MalformedResponse):
        return Failure(f"malformed response: {exc}", retryable=True)
    if isinstance(exc, json.JSONDecodeError):
        return Failure(f"malformed response: the body is not valid JSON ({exc})",
                       retryable=True)
    if isinstance(exc, sdk.APITimeoutError):
        return Failure(f"timed out: no answer within {timeout:g} s (set --model-arg timeout=SECONDS to wait longer)",
                       retryable=True)
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f"{type(cause).__name__}: {cause}" if cause else str(exc)
        return Failure(f"connection error: {detail} (is the server up and the base URL right?)", retryable=True)
    if isinstance(exc, sdk.APIResponseValidationError):
        return Failure(f"malformed response: {exc.message}", retryable=True)
    if isinstance(exc, sdk.APIStatusError):
        return status_failure(exc.status_code, error_message(exc), exc.response.headers, key_name)
    return Failure(f"unexpected {type(exc).__name__} from the {sdk.__name__} client: {exc}", retryable=False)


def error_message(exc: Any, limit: int = 300) -> str:
    """The provider's own error text: `error.message` of a JSON error body, else the client's message."""
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
    if not isinstance(message, str) or not message:
        message = getattr(exc, "message", None) or str(exc)
    message = " ".join(message.split())
    return message if len(message) <= limit else message[:limit] + "..."


class AdaptiveLimit:
    """A concurrency limit that shrinks on rate limiting and grows back on success (AIMD).

    `slot()` holds one of the `limit` places while a request is in flight. `on_rate_limit(ticket)` multiplies
    the limit by `decrease` (at least `minimum`), but only once per burst: the ticket says which limit the
    request started under, and a 429 from a request that started before the last cut is the same overload
    being reported again. `on_success()` adds 1/limit, i.e. about one slot per `limit` successes."""

    def __init__(self, maximum: int, decrease: float = 0.5, minimum: int = 1):
        if maximum < 1:
            raise ValueError(f"concurrency must be at least 1, got {maximum}")
        self.maximum = maximum
        self.minimum = max(1, min(minimum, maximum))
        self.decrease = decrease
        self._limit = float(maximum)
        self._in_flight = 0
        self._epoch = 0
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        return int(self._limit)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def acquire(self) -> int:
        """Wait for a free place; returns a ticket for `on_rate_limit`."""
        with self._cond:
            while self._in_flight >= int(self._limit):
                self._cond.wait()
            self._in_flight += 1
            return self._epoch

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[int]:
        ticket = self.acquire()
        try:
            yield ticket
        finally:
            self.release()

    def on_success(self) -> None:
        with self._cond:
            if self._limit < self.maximum:
                self._limit = min(float(self.maximum), self._limit + 1 / self._limit)
                self._cond.notify_all()

    def on_rate_limit(self, ticket: int | None = None) -> bool:
        """Shrink the limit; False when this burst already shrank it."""
        with self._cond:
            if ticket is not None and ticket != self._epoch:
                return False
            self._limit = max(float(self.minimum), self._limit * self.decrease)
            self._epoch += 1
            return True


def call_with_retries(call: Callable[[], T], classify: Callable[[Exception], Failure], policy: RetryPolicy,
                      limit: AdaptiveLimit, what: str = "request",
                      sleep: Callable[[float], None] = time.sleep) -> tuple[T, int]:
    """Run `call` until it succeeds, retrying what `classify` calls retryable. Returns the result and the number
    of retries it took; raises GiveUp with a redacted reason when the failure is final or attempts run out.
    The limit's place is held only while the request is in flight, never while waiting to retry."""
    for attempt in range(1, policy.attempts + 1):
        with limit.slot() as ticket:
            try:
                result = call()
            except Exception as exc:  # classified below; nothing escapes as an exception but GiveUp
                failure = classify(exc)
            else:
                limit.on_success()
                return result, attempt - 1
            if failure.rate_limited:
                limit.on_rate_limit(ticket)
        reason = redact(failure.reason)
        if not failure.retryable:
            raise GiveUp(reason, attempt)
        if attempt == policy.attempts:
            raise GiveUp(f"{reason} (gave up after {attempt} attempts; run the same command again to retry)",
                         attempt)
        if failure.retry_after is not None and failure.retry_after > policy.retry_after_max:
            raise GiveUp(f"{reason} (the server asked to wait {failure.retry_after:.0f} s, more than "
                         f"retry_after_max={policy.retry_after_max:.0f} s; run the same command again later)",
                         attempt)
        wait = policy.delay(attempt, failure.retry_after)
        log.warning("%s failed (attempt %d of %d): %s; retrying in %.1f s%s", what, attempt, policy.attempts,
                    reason, wait, f" (concurrency now {limit.limit})" if failure.rate_limited else "")
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
