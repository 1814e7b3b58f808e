"""TcpSimulator: the simulated focuser on a TCP port, as a Celestron WiFi module or ser2net
serves it (clients connect with ``socket://host:port``). Each connection has its own frame
decoder; all share the motor, like several programs on one mount bus."""

from __future__ import annotations

import logging
import select
import socket
from collections.abc import Callable

from .motor import FocusMotor
from .responder import AuxResponder
from .serving import Responder, SimulatorServer

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.05


class TcpSimulator(SimulatorServer):
    def __init__(self, motor: FocusMotor, host: str = "127.0.0.1", port: int = 0, responder: Callable[[], Responder] | None = None) -> None:
        super().__init__(motor)
        self.host = host
        self.port = port
        self._listener: socket.socket | None = None
        self._make_responder: Callable[[], Responder] = responder or (lambda: AuxResponder(motor))
        self._clients: dict[socket.socket, Responder] = {}

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def plugged(self) -> bool:
        return self._listener is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socket://{host}:{self.port}"

    def _open(self) -> None:
        self._listen()

    def _close(self) -> None:
        self._close_all()

    def _thread_name(self) -> str:
        return f"tcp simulator {self.port}"

    def _listen(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as exc:
            listener.close()
            raise OSError(exc.errno, f"cannot listen on {self.host}:{self.port}: {exc.strerror}; choose another port") from exc
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        log.info("simulated focuser listening on %s", self.url)

    def _close_all(self) -> None:
        for client in list(self._clients):
            client.close()
        self._clients.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _serve(self) -> None:
        while not self._stopping.is_set():
            if self.motor.unplugged:
                if self._listener is not None:
                    log.info("simulated focuser unplugged from %s", self.url)
                    self._close_all()
                self._stopping.wait(POLL_INTERVAL)
                continue
            if self._listener is None:
                self._listen()
            self._exchange()

    def _exchange(self) -> None:
        assert self._listener is not None
        dues = [due for due in (responder.next_due() for responder in self._clients.values()) if due is not None]
        wait = min([POLL_INTERVAL, *dues])
        readable, _, _ = select.select([self._listener, *self._clients], [], [], wait)
        for sock in readable:
            if sock is self._listener:
                client, peer = self._listener.accept()
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._clients[client] = self._make_responder()
                log.info("client connected from %s", peer[0])
                continue
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                log.info("client disconnected")
                del self._clients[sock]
                sock.close()
                continue
            self._clients[sock].feed(data)
        for client, responder in list(self._clients.items()):
            out = responder.take()
            if out:
                try:
                    client.sendall(out)
                except OSError:
                    del self._clients[client]
                    client.close()
