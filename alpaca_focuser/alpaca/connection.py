"""Platform 7 Connect/Disconnect/Connecting, counted per client, done once here for every device.

Alpaca devices are shared: N.I.N.A., a script and the control page may use one focuser at once.
Each ClientID (0 for a client that sends none) connects and disconnects for itself, and Connected
reads that client's own state (a client that has done neither reads the device's, so a focuser the
server connected at start reads as connected); the device itself is released only when its last client leaves,
and releasing it stops a running motor first (the device model sees to that).

Connect and Disconnect must return at once and be repeatable back to back (ConformU sends twelve
in a row), so they record what is wanted and start one background thread that brings the device
there; Connecting is true while that thread runs. PUT Connected is the older synchronous form: it
waits for the change and returns the device's own error.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from ..device import Focuser
from ..errors import AlpacaError, InvalidOperation

log = logging.getLogger(__name__)

MAX_CLIENTS = 256  # bounds the memory a client inventing ClientIDs can take
REMEMBERED = 1024


@dataclass(frozen=True)
class ConnectFailure:
    message: str
    at: float  # time.time()


class ConnectionControl:
    def __init__(self, device: Focuser, label: str) -> None:
        self._device = device
        self._label = label  # "focuser 0", for logs
        self._lock = threading.Lock()  # guards _clients and _thread
        self._change = threading.Lock()  # one connect or disconnect at a time
        self._clients: set[int] = set()
        self._left: dict[int, None] = {}  # clients that disconnected, oldest first, at most REMEMBERED
        self._thread: threading.Thread | None = None
        self.last_failure: ConnectFailure | None = None

    @property
    def connecting(self) -> bool:
        with self._lock:
            return self._thread is not None

    @property
    def clients(self) -> int:
        """How many clients are connected now."""
        with self._lock:
            return len(self._clients)

    def connected(self, client: int) -> bool:
        """Alpaca Connected for one client: it asked to be connected and the device is."""
        with self._lock:
            if client in self._left:
                return False
            known = client in self._clients or not self._clients
        return known and self._device.state.connected

    def request(self, connected: bool, client: int) -> None:
        """Connect or disconnect one client; the device follows in the background when needed."""
        with self._lock:
            wanted = self._record(connected, client)
            if self._thread is not None:
                return  # the running thread looks at the clients again when it finishes
            if wanted == self._device.state.connected:
                return
            self._thread = threading.Thread(target=self._work, name=f"{self._label} connection", daemon=True)
            self._thread.start()

    def set_now(self, connected: bool, client: int) -> None:
        """PUT Connected: connect or disconnect before returning; raises the device's error."""
        with self._lock:
            wanted = self._record(connected, client)
        with self._change:
            self._apply(wanted)

    def _record(self, connected: bool, client: int) -> bool:
        """Note the client's wish (``_lock`` held); whether the device is wanted at all now."""
        if connected:
            if client not in self._clients and len(self._clients) >= MAX_CLIENTS:
                raise InvalidOperation(f"{self._label} already has {MAX_CLIENTS} connected clients; disconnect some first.")
            self._clients.add(client)
            self._left.pop(client, None)
            return True
        self._left[client] = None
        if len(self._left) > REMEMBERED:
            del self._left[next(iter(self._left))]
        if client in self._clients:
            self._clients.discard(client)
            if self._clients:
                log.info(
                    "Client %d disconnected from %s; %d other client(s) keep it connected", client, self._label, len(self._clients)
                )
        return bool(self._clients)

    def _work(self) -> None:
        while True:
            with self._lock:
                wanted = bool(self._clients)
            with self._change:
                try:
                    self._apply(wanted)
                except AlpacaError:
                    pass  # _apply has logged it and kept it for the setup page
                except Exception:
                    log.exception("Unexpected failure while changing the connection of %s", self._label)
            with self._lock:
                if bool(self._clients) == wanted:
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
            log.info("The last client disconnected from %s", self._label)
