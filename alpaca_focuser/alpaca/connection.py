"""Platform 7 Connect/Disconnect/Connecting, counted per client and held by leases, done once here
for every device.

Alpaca devices are shared: N.I.N.A., a script and the control page may use one focuser at once.
Each ClientID (0 for a client that sends none) connects and disconnects for itself; the device
itself is released (a running motor stopped first, by the device model) only when its last client
leaves. Clients do not always leave politely: a closed browser tab, a crashed script, a laptop
gone to sleep never send Disconnect. So a connection lives by its requests: a client silent for
``client_lease_s`` no longer counts (it holds no port, blocks no "last client leaves", takes no
place in the client limit), and the log says so.

What Connected reads, decided once:

* a client that connected reads the device's state;
* a client that never connected (or whose lease lapsed) reads the device's state too, and may use
  the focuser while someone holds it: scripts that never call Connect keep working, and one that
  sends commands counts as holding the focuser for as long as it keeps making requests;
* a client that disconnected reads false and gets NotConnected until it connects again, as
  ConformU checks.

Connect and Disconnect must return at once and be repeatable back to back (ConformU sends twelve
in a row), so they record what is wanted and start one background thread that brings the device
there; Connecting is true while that thread runs. PUT Connected is the older synchronous form: it
waits for the change and returns the device's own error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..device import Focuser
from ..errors import AlpacaError, InvalidOperation
from ..safe_text import escape_controls

log = logging.getLogger(__name__)

MAX_CLIENTS = 256  # bounds the memory a client inventing ClientIDs can take
REMEMBERED = 1024
LEASE_MIN_S = 5.0  # the shortest lease a page may ask for


@dataclass(frozen=True)
class ConnectFailure:
    message: str
    at: float  # time.time()


@dataclass
class Client:
    client_id: int
    holds: bool = False  # counts as connected: connected (or used the focuser) and its lease runs
    left: bool = False  # disconnected: reads false until it connects again
    last_seen: float = 0.0  # monotonic
    lease_s: float | None = None  # a shorter lease the client asked for (the control page)
    address: str = ""
    agent: str = ""


class ConnectionControl:
    def __init__(self, device: Focuser, label: str, *, lease_s: Callable[[], float], clock: Callable[[], float] = time.monotonic) -> None:
        self._device = device
        self._label = label  # "focuser 0", for logs
        self._lease_s = lease_s
        self._clock = clock
        self._lock = threading.Lock()  # guards _clients, _wanted and _thread
        self._change = threading.Lock()  # one connect or disconnect at a time
        self._clients: dict[int, Client] = {}  # oldest first
        self._wanted: bool | None = None  # what the clients last decided; None: nobody has yet
        self._thread: threading.Thread | None = None
        self._sweeper: threading.Timer | None = None
        self.last_failure: ConnectFailure | None = None

    # ------------------------------------------------------------------ reading

    @property
    def connecting(self) -> bool:
        with self._lock:
            return self._thread is not None

    @property
    def clients(self) -> int:
        """How many clients hold the focuser now."""
        with self._lock:
            self._sweep()
            return sum(client.holds for client in self._clients.values())

    def connected(self, client: int) -> bool:
        """Alpaca Connected for one client."""
        return self.usable(client) and self._device.state.connected

    def usable(self, client: int) -> bool:
        """False for a client that disconnected: it gets NotConnected until it connects again."""
        with self._lock:
            known = self._clients.get(client)
            return known is None or not known.left

    def listing(self) -> list[dict[str, object]]:
        """Every client known, for the Clients action and the settings page."""
        now = self._clock()
        with self._lock:
            self._sweep()
            return [
                {
                    "ClientID": client.client_id,
                    "Connected": client.holds,
                    "Disconnected": client.left,
                    "LastSeenS": round(now - client.last_seen, 1),
                    "Address": client.address,
                    "UserAgent": client.agent,
                }
                for client in reversed(self._clients.values())
            ]

    # ------------------------------------------------------------------ requests

    def seen(self, client: int, *, uses: bool = False, address: str = "", agent: str = "", lease_s: float | None = None) -> None:
        """Every request of a client renews its lease; one that sends a command to the focuser
        while it is connected holds it from then on, as if it had connected."""
        with self._lock:
            self._sweep()
            record = self._record(client)
            record.last_seen = self._clock()
            record.address = address or record.address
            record.agent = escape_controls(agent[:120]) or record.agent
            if lease_s is not None:
                record.lease_s = max(LEASE_MIN_S, lease_s)
            if uses and not record.holds and not record.left and self._device.state.connected and self._holders() < MAX_CLIENTS:
                record.holds = True
                log.info("Client %d (%s) uses %s without having connected; it counts as connected while it keeps making requests", client, record.address or "unknown address", self._label)
            self._arm_sweeper()

    def request(self, connected: bool, client: int) -> None:
        """Connect or disconnect one client; the device follows in the background when needed."""
        with self._lock:
            self._sweep()
            self._note(connected, client)
            self._follow()

    def set_now(self, connected: bool, client: int) -> None:
        """PUT Connected: connect or disconnect before returning; raises the device's error."""
        with self._lock:
            self._sweep()
            wanted = self._note(connected, client)
        with self._change:
            self._apply(wanted)

    def disconnect_all(self) -> list[int]:
        """End every client's connection, stop any motion and release the port; the clients that
        held it. Every client known then reads false until it connects again."""
        with self._lock:
            held = [client.client_id for client in self._clients.values() if client.holds]
            for client in self._clients.values():
                client.holds = False
                client.left = True
            self._wanted = False
            log.info("Every client of %s was disconnected by request (%s held it)", self._label, ", ".join(map(str, held)) or "none")
        with self._change:
            self._apply(False)
        return held

    # ------------------------------------------------------------------ inside

    def _record(self, client: int) -> Client:
        record = self._clients.pop(client, None) or Client(client)
        self._clients[client] = record  # most recent last
        if len(self._clients) > REMEMBERED:
            for old in list(self._clients.values()):
                if not old.holds:
                    del self._clients[old.client_id]
                    break
        return record

    def _holders(self) -> int:
        return sum(client.holds for client in self._clients.values())

    def _note(self, connected: bool, client: int) -> bool:
        """Record a client's wish (``_lock`` held); whether the device is wanted at all now."""
        record = self._record(client)
        record.last_seen = self._clock()
        if connected:
            if not record.holds and self._holders() >= MAX_CLIENTS:
                raise InvalidOperation(f"{self._label} already has {MAX_CLIENTS} connected clients; disconnect some first.")
            record.holds, record.left = True, False
            self._wanted = True
            self._arm_sweeper()
            return True
        was_holding = record.holds
        record.holds, record.left = False, True
        others = self._holders()
        if was_holding and others:
            log.info("Client %d disconnected from %s; %d other client(s) keep it connected", client, self._label, others)
        self._wanted = others > 0
        return self._wanted

    def _sweep(self) -> None:
        """Leases that ran out (``_lock`` held): such a client counts for nothing any more, and when
        it was the last one holding the focuser, the focuser is released."""
        now = self._clock()
        lapsed = [c for c in self._clients.values() if c.holds and now - c.last_seen > self._lease_of(c)]
        for client in lapsed:
            client.holds = False
            log.info(
                "Client %d (%s) made no request to %s for %.0f s: its connection lapsed and no longer holds the focuser",
                client.client_id,
                client.address or "unknown address",
                self._label,
                now - client.last_seen,
            )
        if lapsed and not self._holders():
            self._wanted = False
            self._follow()

    def _lease_of(self, client: Client) -> float:
        lease = self._lease_s()
        return min(lease, client.lease_s) if client.lease_s is not None else lease

    def _arm_sweeper(self) -> None:
        """A timer that ends the leases of clients that stop making requests altogether."""
        if self._sweeper is not None or not self._holders():
            return
        now = self._clock()
        due = min(c.last_seen + self._lease_of(c) for c in self._clients.values() if c.holds) - now
        self._sweeper = threading.Timer(max(0.05, due + 0.05), self._swept)
        self._sweeper.daemon = True
        self._sweeper.start()

    def _swept(self) -> None:
        with self._lock:
            self._sweeper = None
            self._sweep()
            self._arm_sweeper()

    def _follow(self) -> None:
        """Bring the device where the clients want it, in the background (``_lock`` held)."""
        if self._thread is not None or self._wanted is None:
            return  # the running thread looks at the clients again when it finishes
        state = self._device.state
        if state.connected if self._wanted else not state.held:
            return  # already there (a release is judged by what is held: Connected may read false while the port is still held)
        self._thread = threading.Thread(target=self._work, name=f"{self._label} connection", daemon=True)
        self._thread.start()

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
                if bool(self._wanted) == wanted:
                    self._thread = None
                    return

    def _apply(self, connected: bool) -> None:
        if connected:
            if self._device.state.connected and self._device.state.held:
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
            log.info("No client holds %s any more: it was disconnected and its port released", self._label)
