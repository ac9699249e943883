"""Reaching the Ray cluster: importing Ray (an optional extra), connecting with a hard time-out, and finding the
sandbox nodes (those that advertise the sandbox resource)."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from .settings import ExecutorError, RaySettings

INSTALL_HINT = "pip install 'harness[ray]' (on the driver and on every node of the cluster)"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    host = address.removeprefix("ray://").rsplit(":", 1)[0]
    return host in _LOOPBACK


def connect(settings: RaySettings, log) -> bool:
    """Connect this process to the cluster as its driver; True when this call did (so `disconnect` is ours).

    Without an address (nor RAY_ADDRESS) a one-node Ray is started for the run on this machine, a sandbox
    node of its own, with token authentication (its ports listen on every interface): a way to try the
    executor on one machine. With a loopback address this process joins as
    127.0.0.1. Connecting runs in a thread with a time-out: a cluster that does not answer (a wrong address,
    a host with several addresses) makes ray.init wait for ever, deaf to SIGTERM."""
    address = settings.address or os.environ.get("RAY_ADDRESS") or None
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = dict(namespace=settings.namespace, logging_level=logging.WARNING,
                                  log_to_driver=False)
    if address is None:
        kwargs.update(resources={settings.resource: 1}, include_dashboard=False, _node_ip_address="127.0.0.1")
    else:
        kwargs["address"] = address
        if is_loopback(address) and not address.startswith("ray://"):
            kwargs["_node_ip_address"] = "127.0.0.1"
    logging.getLogger("ray._private.worker").addFilter(_not_sigterm_note)
    if address is None:  # started here, in this thread: Ray's processes die with the thread that started them
        _token_auth_for_a_new_local_ray()
        try:
            ray.init(**kwargs)
        except Exception as exc:  # noqa: BLE001 - reported with what it was
            raise ExecutorError(f"cannot start a one-node Ray here: {type(exc).__name__}: {exc}") from exc
        _errors_to_stderr(ray)
        log("ray: no --address: started a one-node Ray on this machine for this run (a sandbox node of one)")
        return True
    failure: list[BaseException] = []

    def init() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported below, with what to check
            failure.append(exc)

    thread = threading.Thread(target=init, name="ray-connect", daemon=True)
    thread.start()
    thread.join(settings.connect_timeout)
    if thread.is_alive():
        raise ExecutorError(
            f"no Ray cluster answered at {address} within {settings.connect_timeout:.0f} s: check `ray status "
            f"--address {address}`; on a host with several addresses start every node with "
            f"--node-ip-address; a driver outside the cluster connects with ray://HEAD:10001")
    if failure:
        exc = failure[0]
        raise ExecutorError(f"cannot connect to the Ray cluster at {address}: {type(exc).__name__}: "
                            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from exc
    _errors_to_stderr(ray)
    return True


def _token_auth_for_a_new_local_ray() -> None:
    """A one-node Ray started here listens on every interface of this machine, whatever node address it is
    given, so it must not be open to the network. Ray >= 2.59 turns token authentication on by itself for a
    new local Ray (unless RAY_AUTH_MODE says otherwise, and writes the token to ~/.ray/auth_token); with an
    older Ray, do what it would."""
    if "RAY_AUTH_MODE" in os.environ:
        return  # the user chose
    try:
        from ray._private.authentication import authentication_token_setup as setup
    except ImportError:
        setup = None
    if hasattr(setup, "enable_token_auth_by_default"):
        return  # Ray does it itself
    os.environ["RAY_AUTH_MODE"] = "token"
    try:
        from ray._raylet import Config  # Ray caches its settings: read RAY_AUTH_MODE again, as Ray itself does

        Config.initialize("")
    except Exception:  # noqa: BLE001 - then ray.init reports what is wrong
        pass


def _errors_to_stderr(ray: Any) -> None:
    """Ray prints the cluster's error messages (a raylet that died, with its log's tail) on the driver's
    standard output, where `harness run` prints its results: send them to standard error instead."""
    worker = getattr(getattr(ray, "_private", None), "worker", None)
    original = getattr(worker, "print_to_stdstream", None)
    if original is None or getattr(original, "_harness", False):
        return

    def to_stderr(data: dict, ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix)

    to_stderr._harness = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


def _not_sigterm_note(record: logging.LogRecord) -> bool:
    """Ray notes that it cannot install its SIGTERM handler in the connecting thread: as it should be (the
    harness handles its own signals)."""
    return "SIGTERM handler is not set" not in record.getMessage()


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def sandbox_nodes(resource: str) -> list[dict[str, Any]]:
    """The live nodes that advertise the sandbox resource, each {node_id, ip}."""
    import ray

    return [{"node_id": n["NodeID"], "ip": n.get("NodeManagerAddress", "?")} for n in ray.nodes()
            if n.get("Alive") and n.get("Resources", {}).get(resource, 0) >= 1]
