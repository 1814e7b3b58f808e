"""Sending the discovery probe and collecting the replies: the part of the discovery run that its
field checks (discovery_field) and the setup page check build on, so they need not import the run."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from .client import Deadline, DeviceUrl
from .options import CheckerOptions
from .report import Report

RUN = "discovery"
DISCOVERY_MESSAGE = b"alpacadiscovery1"

Replies = list[tuple[bytes, tuple[str, int]]]


class DiscoveryProbe:
    def __init__(self, url: DeviceUrl, options: CheckerOptions, report: Report, deadline: Deadline) -> None:
        self.url = url
        self.options = options
        self.deadline = deadline
        self.log = report.for_run(RUN)

    def probe(
        self, target: str, *, broadcast: bool = False, until: Callable[[bytes, tuple[str, int]], bool] | None = None
    ) -> Replies | None:
        """The replies that arrive within the discovery duration (or until one satisfies ``until``); None if not sent."""
        self.deadline.check(f"the discovery probe to {target}")
        try:
            family, _, _, _, address = socket.getaddrinfo(target, self.options.discovery_port, type=socket.SOCK_DGRAM)[0]
        except OSError as exc:
            self.log.error("Discovery", f"cannot resolve {target}: {exc}")
            return None
        replies: Replies = []
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            try:
                if broadcast:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                sock.sendto(DISCOVERY_MESSAGE, address)
            except OSError as exc:
                self.log.error("Discovery", f"cannot send the discovery probe to {target} port {self.options.discovery_port}: {exc}")
                return None
            deadline = time.monotonic() + min(self.options.discovery_duration, max(self.deadline.remaining(), 0.0))
            while (remaining := deadline - time.monotonic()) > 0:
                sock.settimeout(remaining)
                try:
                    data, sender = sock.recvfrom(65535)
                except TimeoutError:
                    break
                except OSError:
                    break  # an ICMP "port unreachable": nothing listens on the discovery port
                replies.append((data, (sender[0], sender[1])))
                if until is not None and until(data, replies[-1][1]):
                    break
        return replies
