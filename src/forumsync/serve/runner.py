"""Serving the app with uvicorn: in the foreground (`forumsync serve`) or from a thread
beside the worker (`forumsync run --serve`)."""

from __future__ import annotations

import logging
import signal
import threading
import time

import uvicorn
from starlette.applications import Starlette

from forumsync.logs import event

log = logging.getLogger(__name__)


class BackgroundServer:
    """uvicorn on a thread of its own; `port=0` picks a free port (see `.port`)."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 8080) -> None:
        if host not in ("127.0.0.1", "localhost", "::1") and not getattr(
                app.state, "private", False):
            event(log, "the dashboard, its digest dry run and the delivery log are public on "
                  "this address: set [serve] basic_auth_user (and FORUMSYNC_SERVE_PASSWORD) "
                  "unless a proxy guards them", logging.WARNING, host=host)
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port,
                                                    log_level="warning", access_log=False,
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, name="serve", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start (is the port in use?)")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        host = self.server.config.host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(app: Starlette, host: str, port: int) -> str:
    """Serve until SIGTERM/SIGINT, then stop cleanly (exit 0, as the worker does: uvicorn's
    own handlers would re-raise the signal); returns the URL it served."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with BackgroundServer(app, host, port) as server:
            event(log, "serving", url=server.url)
            while not stop.wait(0.2) and server.thread.is_alive():
                pass
            return server.url
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
