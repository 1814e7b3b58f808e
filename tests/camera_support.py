"""A small Alpaca camera on loopback whose CameraState the test sets, and which can be made to
hang (answer nothing for longer than the server waits) or vanish (stop listening)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

IDLE, WAITING, EXPOSING, READING, DOWNLOADING, ERROR = range(6)


@dataclass
class Camera:
    state: int = IDLE
    hang: bool = False  # every request waits until the test lets go (or the camera is stopped)
    requests: list[str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        self.requests.append(f"{method} {path}")
        if self.hang:
            self.released.wait(30)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        body: dict[str, Any] = {"ClientTransactionID": int(query.get("ClientTransactionID", ["0"])[0]), "ServerTransactionID": len(self.requests),
                                "ErrorNumber": 0, "ErrorMessage": ""}  # fmt: skip
        if (method, path) == ("GET", "/api/v1/camera/0/camerastate"):
            body["Value"] = self.state
        elif (method, path) != ("PUT", "/api/v1/camera/0/connected"):
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [f"no such member {path}".encode()]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


class _Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class RunningCamera:
    camera: Camera
    server: WSGIServer
    thread: threading.Thread

    @property
    def address(self) -> str:
        return f"alpaca://127.0.0.1:{self.server.server_port}/camera/0"

    def vanish(self) -> None:
        """Stop listening: the port is closed, as when the camera's computer is switched off."""
        self.camera.released.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def alpaca_camera(**options: Any) -> Iterator[RunningCamera]:
    camera = Camera(**options)
    server = make_server("127.0.0.1", 0, camera.app, server_class=_Threaded, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    running = RunningCamera(camera, server, thread)
    try:
        yield running
    finally:
        camera.released.set()
        if thread.is_alive():
            server.shutdown()
            server.server_close()
