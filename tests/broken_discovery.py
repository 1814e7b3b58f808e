"""The broken focuser's UDP discovery responder, with the defects responders have in the field.

Correct, it opens its port shared (SO_REUSEADDR and SO_REUSEPORT) on every address, so it hears
the loopback broadcast 127.255.255.255, and it answers only probes from loopback. Each defect
switch breaks one of those rules, on real sockets.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Protocol

PROBE = b"alpacadiscovery1"
GARBAGE_BEFORE_DYING = 3


class ResponderDefects(Protocol):
    spaced_discovery_reply: bool  # {"AlpacaPort": N} with a space
    answers_garbage: bool  # every datagram gets the reply, not only the probe
    dies_after_garbage: bool  # the responder stops after a few datagrams that are not probes
    unicast_only: bool  # bound to 127.0.0.1, so the broadcast never reaches it
    exclusive_port: bool  # the port is opened without SO_REUSEADDR/SO_REUSEPORT


class BrokenResponder:
    def __init__(self, defects: ResponderDefects, http_port: Callable[[], int]) -> None:
        self.defects = defects
        self._http_port = http_port
        self._stopping = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if not defects.exclusive_port:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._sock.bind(("127.0.0.1" if defects.unicast_only else "0.0.0.0", 0))
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._answer, daemon=True)

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _answer(self) -> None:
        garbage = 0
        while not self._stopping.is_set():
            try:
                data, sender = self._sock.recvfrom(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            if not ipaddress.ip_address(sender[0]).is_loopback:
                continue  # a test fixture answers nobody outside this machine
            if PROBE not in data:
                garbage += 1
                if self.defects.dies_after_garbage and garbage >= GARBAGE_BEFORE_DYING:
                    return
                if not self.defects.answers_garbage:
                    continue
            separator = ": " if self.defects.spaced_discovery_reply else ":"
            self._sock.sendto(f'{{"AlpacaPort"{separator}{self._http_port()}}}'.encode(), sender)
