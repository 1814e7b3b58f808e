"""Platform 7 Connect/Disconnect/Connecting, done once here rather than in every device.

Connect and Disconnect must return at once and be repeatable back to back (ConformU sends twelve
in a row), so they only record what the client wants and start one background thread that brings
the device there; Connecting is true while that thread runs. A Disconnect that arrives during a
Connect is carried out after it, so the last request always wins. PUT Connected is the older
synchronous form: it waits for any running change and returns the device's own error.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from ..device import Focuser
from ..errors import AlpacaError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectFailure:
    message: str
    at: float  # time.time()


class ConnectionControl:
    def __init__(self, device: Focuser, label: str) -> None:
        self._device = device
        self._label = label  # "focuser 0", for logs
        self._lock = threading.Lock()  # guards _wanted and _thread
        self._change = threading.Lock()  # one connect or disconnect at a time
        self._wanted: bool | None = None
        self._thread: threading.Thread | None = None
        self.last_failure: ConnectFailure | None = None

    @property
    def connecting(self) -> bool:
        with self._lock:
            return self._thread is not None

    def request(self, connected: bool) -> None:
        """Start connecting or disconnecting in the background; a no-op if already there."""
        with self._lock:
            self._wanted = connected
            if self._thread is not None:
                return  # the running thread looks at _wanted again when it finishes
            if connected and self._device.state.connected:
                return
            self._thread = threading.Thread(target=self._work, name=f"{self._label} connection", daemon=True)
            self._thread.start()

    def set_now(self, connected: bool) -> None:
        """PUT Connected: connect or disconnect before returning; raises the device's error."""
        with self._lock:
            self._wanted = connected
        with self._change:
            self._apply(connected)

    def _work(self) -> None:
        while True:
            with self._lock:
                wanted = bool(self._wanted)
            with self._change:
                try:
                    self._apply(wanted)
                except AlpacaError:
                    pass  # _apply has logged it and kept it for the setup page
                except Exception:
                    log.exception("Unexpected failure while changing the connection of %s", self._label)
            with self._lock:
                if self._wanted == wanted:
                    self._thread = None
                    return

    def _apply(self, connected: bool) -> None:
        if connected:
            if self._device.state.connected:
                return
            log.debug("Connecting %s", self._label)
            try:
                self._device.connect()
            except AlpacaError as error:
                self.last_failure = ConnectFailure(error.message, time.time())
                log.warning("Could not connect %s: %s", self._label, error.message)
                raise
            self.last_failure = None
            log.debug("Connected %s", self._label)
        else:
            self._device.disconnect()
            log.debug("Disconnected %s", self._label)
