"""The port to the focuser as the state machine sees it: the open link, an unanswered port kept
for the next try, and when to try again after a failure (with backoff), since when it is down."""

from __future__ import annotations

from collections.abc import Callable

from ..celestron.faults import AuxError, NoReply
from ..celestron.port_names import OPENABLE_SCHEMES
from ..celestron.routes import Link, Route
from ..settings import FocuserSettings

RECONNECT_BACKOFF_S = (0.0, 0.2, 0.5, 1.0, 2.0)


class Line:
    def __init__(self, opener: Callable[[Route], Link]) -> None:
        self._opener = opener
        self.link: Link | None = None
        self._quiet: Link | None = None  # an open port whose device stopped answering: tried again first
        self.retry_at = 0.0
        self.retries = 0
        self.failed_attempts = 0  # in all, so a Connect waiting on an attempt sees it fail
        self.lost_since: float | None = None
        self.grace_over = False

    def open(self, settings: FocuserSettings) -> Link:
        self.link, self._quiet = self._quiet or self._opener(route_of(settings)), None
        return self.link

    def keep_or_close(self, exc: AuxError) -> None:
        """A port that is open but unanswered is kept: a slow line's late replies then teach its
        link to wait longer. A port that failed is closed, to be opened anew (maybe under a new name)."""
        link, self.link = self.link, None
        if link is None:
            return
        if isinstance(exc, NoReply) and getattr(link, "is_open", False):
            self._quiet = link
        else:
            link.close()

    def close(self) -> None:
        for link in (self.link, self._quiet):
            if link is not None:
                link.close()
        self.link = self._quiet = None

    def attempt_failed(self, now: float) -> bool:
        """Schedule the next try; True for the first failure in a row (worth telling the user)."""
        delay = RECONNECT_BACKOFF_S[min(self.retries, len(RECONNECT_BACKOFF_S) - 1)]
        self.retries += 1
        self.failed_attempts += 1
        self.retry_at = now + max(delay, 0.05)
        return self.retries == 1

    def start_over(self, now: float) -> None:
        """A new session (a first connect) or a fresh loss: try at once."""
        self.retry_at = now
        self.retries = 0

    def lost(self, now: float) -> None:
        self.start_over(now)
        self.lost_since = now

    def found(self) -> None:
        self.lost_since = None
        self.grace_over = False
        self.retries = 0

    def grace_ends(self, now: float, grace_s: float) -> bool:
        """True once, when the line has been down longer than the grace period."""
        if self.grace_over or self.lost_since is None or now - self.lost_since <= grace_s:
            return False
        self.grace_over = True
        return True


def route_of(settings: FocuserSettings, schemes: frozenset[str] = OPENABLE_SCHEMES) -> Route:
    return Route(
        port=settings.port,
        baud=settings.baud,
        reply_timeout_s=settings.reply_timeout_s,
        route=settings.route,
        source=settings.source,
        rtscts=settings.rtscts,
        schemes=schemes,
        share=settings.share,
    )


def unreachable(port: str, reason: object) -> str:
    return (
        f"Could not reach the focuser on {port}: {reason}. Check the USB cable, that the focuser has power "
        "from the mount, and the port name ('alpaca-focuser ports' lists the serial ports)."
    )
