"""Serving the app with uvicorn: one process, or several worker processes on one socket.

uvicorn's own ``--workers`` binds its socket with protocol 0, and asyncio only sets
TCP_NODELAY on connections accepted from a socket that says it is TCP: every response
(headers and body are two writes) then waits about 40 ms for the client's delayed ACK.
``run`` binds the socket itself, as TCP, and hands it to uvicorn's supervisor.
"""

from __future__ import annotations

import socket

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from .app import create_app
from .logs import configure_logging
from .settings import load_settings

__all__ = ["listening_socket", "run", "worker_app"]


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that worker processes share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(app: str, *, host: str, port: int, workers: int) -> None:
    """Serve ``app`` (an import string of an app factory) from ``workers`` processes."""
    config = uvicorn.Config(
        app, factory=True, host=host, port=port, workers=workers, log_config=None, access_log=False
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[listening_socket(host, port)]).run()


def worker_app() -> Starlette:
    """The app of one worker process, configured from the environment like the parent."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
