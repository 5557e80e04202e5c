"""Serving the app with uvicorn: one process, or several worker processes on one socket.

uvicorn's own ``--workers`` binds its socket with protocol 0, and asyncio only sets
TCP_NODELAY on connections accepted from a socket that says it is TCP: every response
(headers and body are two writes) then waits about 40 ms for the client's delayed ACK.
The socket is bound here, as TCP (``bind``), and handed to uvicorn or its supervisor; the
command line binds it before anything else starts, so a busy port is one line at once and
"Serving on ..." is printed only once the address is held.
"""

from __future__ import annotations

import errno
import socket

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from .app import create_app
from .logs import configure_logging
from .settings import load_settings

__all__ = ["CannotListen", "bind", "listening_socket", "run", "worker_app"]


class CannotListen(Exception):
    """The address cannot be served (in use, not this machine's, not allowed): one line
    naming it, the reason and what to change."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that worker processes share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def bind(host: str, port: int) -> socket.socket:
    """``listening_socket``, with a failure told as CannotListen."""
    try:
        return listening_socket(host, port)
    except OverflowError as error:  # socket's own check of the port's range
        raise CannotListen(
            f"cannot listen on port {port}: expected 0 to 65535; set PORT (or --port)"
        ) from error
    except OSError as error:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        reason = error.strerror or str(error)
        if error.errno == errno.EADDRINUSE:
            fix = "stop what serves there, or set PORT (or --port) to a free port"
        else:
            fix = "set HOST and PORT (or --host and --port) to an address of this machine"
        raise CannotListen(f"cannot listen on {where}: {reason.lower()}; {fix}") from error


def run(app: str, *, host: str, port: int, workers: int, sock: socket.socket | None = None) -> None:
    """Serve ``app`` (an import string of an app factory) from ``workers`` processes, on
    ``sock`` when given (bound to ``host`` and ``port``), else on a socket bound here."""
    config = uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        # Forwarded headers are believed only from TRUSTED_PROXIES (middleware.ForwardedClient):
        # uvicorn's own default trusts them from loopback, which would let a local client pick
        # the address its rate limits count against.
        proxy_headers=False,
        # uvicorn restarts a worker that does not answer its supervisor within this, import
        # and startup included: 5 s (its default) killed workers starting on a loaded host.
        timeout_worker_healthcheck=30,
    )
    sockets = [listening_socket(host, port) if sock is None else sock]
    if workers == 1:
        uvicorn.Server(config).run(sockets=sockets)
        return
    Multiprocess(config, sockets=sockets).run()


def worker_app() -> Starlette:
    """The app of one worker process, configured from the environment like the parent."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
