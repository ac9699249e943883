"""Errors of the sandbox subsystem.  An InfraError is ours (never the sample's fault): graders turn it
into an `infra` verdict and retry a bounded number of times."""

from __future__ import annotations


class SandboxError(Exception):
    """Base class of every error raised by harness.sandbox."""


class InfraError(SandboxError):
    """The sandbox itself failed: engine unreachable, image missing, runner vanished, container died."""


class EngineUnavailable(InfraError):
    """No Docker engine answers."""


class ImageBuildError(InfraError):
    """An image could not be pulled or built."""


class RunnerLost(InfraError):
    """The in-container runner died, closed its stream or answered nonsense.

    `during_sample` is True when it happened while a sample ran: a sample can kill the runner (both run as
    the same unprivileged user), so graders retry, and a runner lost again and again on the same sample is
    the sample's doing (an error verdict), not ours."""

    def __init__(self, message: str, during_sample: bool = False):
        super().__init__(message)
        self.during_sample = during_sample
