"""Joining a Ray cluster or starting a local Ray instance, with one-sentence errors.

- ``address=None``: a local instance on this machine (``ray.init`` with the dashboard off), shut down
  again by :func:`disconnect`. Its logical CPU count is at least what the workers reserve, so that
  ``--workers N`` always starts (a warning says when that oversubscribes the cores).
- ``"auto"``: the cluster this machine belongs to (``ray start --head`` / ``ray start --address`` ran here).
- ``"HOST:PORT"`` or ``"ray://HOST:PORT"``: that cluster; the address is probed with a plain TCP
  connection first (5 s), so that an unreachable head is one clear sentence instead of Ray's retries.
- Ray already initialized in this process (a test, a notebook): it is used as it is and left running.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

from stridelab.distributed.options import RayOptions
from stridelab.errors import ConfigError

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Connection:
    """A Ray session: whether this process started it (and must shut it down), and the cluster's CPUs."""

    owned: bool
    cpus: float
    address: str


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST:PORT``; ``None`` for ``auto``."""
    if address == "auto":
        return None
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--ray-address {address!r} is not an address; use 'auto', HOST:PORT of `ray start --head` "
                          f"(port 6379 by default) or ray://HOST:10001.")
    return host.strip("[]"), int(port)


def probe(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise :class:`ConfigError` unless a TCP connection to the address succeeds (``auto`` is not probed)."""
    target = _host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"--ray-address {address} is unreachable ({reason}); start the head node with "
                          f"`ray start --head` and pass the address it prints, or drop --ray-address to start "
                          f"a local Ray instance.") from None


def connect(options: RayOptions, cpus_needed: int) -> Connection:
    """Initialize Ray as ``options`` say; check that the cluster can hold ``cpus_needed`` worker CPUs
    (``options.workers x options.cpus_per_worker``; with ``workers = 0`` the pool sizes itself to the cluster).

    Raises:
        ConfigError: the address is malformed or unreachable, no cluster runs for ``auto``, or an
            existing cluster has fewer CPUs than the workers reserve.
    """
    if options.address is not None:
        probe(options.address)
    import ray

    owned = False
    if ray.is_initialized():
        log.debug("using the Ray instance already running in this process")
    elif options.address is None:
        cores = os.cpu_count() or 1
        if cpus_needed > cores:
            log.warning("the %d rollout worker CPUs asked for exceed this machine's %d cores; the local Ray instance "
                        "oversubscribes them", cpus_needed, cores)
        ray.init(num_cpus=max(cores, cpus_needed), include_dashboard=False, logging_level=logging.WARNING)
        owned = True
    else:
        try:
            ray.init(address=options.address, logging_level=logging.WARNING)
        except ConnectionError as exc:
            reason = "" if options.address == "auto" else f" ({str(exc).strip().split('. ')[0][:160]})"
            raise ConfigError(f"--ray-address {options.address} found no running Ray cluster{reason}; start one with "
                              f"`ray start --head`, or drop --ray-address to start a local Ray instance.") from None
    cpus = float(ray.cluster_resources().get("CPU", 0.0))
    if cpus_needed > cpus:
        raise ConfigError(f"{cpus_needed} worker CPUs (--workers x --cpus-per-worker) do not fit the Ray cluster's "
                          f"{cpus:g} CPUs; lower --workers or --cpus-per-worker, or add nodes with "
                          f"`ray start --address=HEAD:6379`.")
    return Connection(owned=owned, cpus=cpus, address=options.address or "local")


def disconnect(connection: Connection) -> None:
    """Shut Ray down if this process started it."""
    if connection.owned:
        import ray

        ray.shutdown()
