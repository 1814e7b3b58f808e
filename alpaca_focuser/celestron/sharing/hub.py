"""PortHub: the server owns the mount's port and gives the focuser and one mount program whole
exchanges on it in turn.

Each party's bytes are cut into whole commands (``framing``); the hub puts one command on the
line, routes what comes back until its answer is complete or its turn runs out, and only then
sends the next. When both parties wait, they go in turn, so neither waits behind more than one
exchange of the other, and an exchange holds the line at most ``turn_limit_s`` (the focuser's
own reply timeout): a mount program that stalls, sends garbage or vanishes cannot hold it
longer, and half a command never reaches the line. Answers go to the party that asked, whole
(a reader that falls behind loses whole answers, never parts of one); bus traffic between them
goes to the mount program, as the real port would give it. Nothing the hub does for one party
waits on the other party reading: the mount program's replies go into a bounded buffer its
endpoint drains.

Two threads: one reads the line (and opens it again when it fails), one dispatches exchanges.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import serial

from ..faults import PORT_ERRORS, RECEIVE_ERRORS
from ..serial_lines import open_port, write_with_handshake
from .framing import Exchange, Framing, Splitter
from .spec import ShareSpec

log = logging.getLogger(__name__)

FOCUSER, MOUNT = "focuser", "mount program"
LINE_READ_S = 0.05  # a read of the line returns at once with data; this bounds how soon stop() is seen
REOPEN_S = 1.0  # a port that failed is tried again this often
MOUNT_QUEUE_MAX = 32  # whole commands a mount program may have waiting; more is a flood, dropped


class Sink(Protocol):
    """Where a party's answers go; ``send`` never blocks."""

    def send(self, data: bytes) -> None: ...


@dataclass
class SideStats:
    """What one party did on the shared port; ``wait`` is the time its commands waited for the line."""

    exchanges: int = 0
    answered: int = 0
    timed_out: int = 0
    wait_total_s: float = 0.0
    wait_max_s: float = 0.0
    garbage_bytes: int = 0
    dropped_commands: int = 0

    def waited(self, seconds: float) -> None:
        self.exchanges += 1
        self.wait_total_s += seconds
        self.wait_max_s = max(self.wait_max_s, seconds)


@dataclass
class Pending:
    side: str
    command: bytes
    queued_at: float
    sink: Sink | None  # who asked: its answer goes there, not to a program that came after it
    sent: threading.Event = field(default_factory=threading.Event)
    failed: str = ""  # why it never reached the line


@dataclass
class _Turn:
    pending: Pending
    exchange: Exchange
    deadline: float
    done: bool = False
    answer: bytearray = field(default_factory=bytearray)  # given to the asker whole, when the exchange ends


@dataclass
class _Party:
    name: str
    stats: SideStats = field(default_factory=SideStats)
    splitter: Splitter = field(default_factory=Splitter)
    queue: deque[Pending] = field(default_factory=deque)
    sink: Sink | None = None
    who: str = ""
    since: float = 0.0


class PortHub:
    def __init__(self, url: str, *, baud: int, framing: Framing, turn_limit_s: float, spec: ShareSpec, rtscts: bool = False,
                 opener: Callable[..., serial.Serial] = open_port) -> None:
        self.url = url
        self.baud = baud
        self.framing = framing
        self.turn_limit_s = turn_limit_s
        self.spec = spec
        self.rtscts = rtscts
        self._opener = opener
        self._cond = threading.Condition()
        self._port: serial.Serial | None = None
        self._line_error = "not opened yet"
        self._parties = {FOCUSER: _Party(FOCUSER), MOUNT: _Party(MOUNT)}
        self._turn: _Turn | None = None
        self._last: _Turn | None = None
        self._last_side = MOUNT
        self._quiet_until = 0.0
        self._refused = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ life

    def start(self) -> PortHub:
        for name, target in (("line", self._read_line), ("turns", self._dispatch)):
            thread = threading.Thread(target=target, name=f"shared port {name} {self.url}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._fail_queued("the shared port was closed")
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
        self._close_line()

    def wait_open(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._port is not None, timeout)

    # ------------------------------------------------------------------ parties

    def submit(self, side: str, data: bytes) -> list[Pending]:
        """Cut ``data`` from ``side`` into whole commands and queue them for the line."""
        with self._cond:
            party = self._parties[side]
            party.splitter.buffer += data
            before = party.splitter.garbage
            commands = self.framing.split(party.splitter)
            if party.splitter.garbage > before:
                party.stats.garbage_bytes += party.splitter.garbage - before
                log.debug("shared port %s: dropped %d bytes from the %s that start no %s command", self.spec.where,
                          party.splitter.garbage - before, side, self.framing.name)
            now = time.monotonic()
            queued = []
            for command in commands:
                if side == MOUNT and len(party.queue) >= MOUNT_QUEUE_MAX:
                    party.stats.dropped_commands += 1
                    continue
                pending = Pending(side, command, now, party.sink)
                if self._port is None:
                    pending.failed = f"the mount's port {self.url} is not open: {self._line_error}"
                    pending.sent.set()
                else:
                    party.queue.append(pending)
                queued.append(pending)
            self._cond.notify_all()
            return queued

    def withdraw(self, pending: Pending) -> bool:
        """Take back a command that has not reached the line; False if it already has."""
        with self._cond:
            queue = self._parties[pending.side].queue
            if pending in queue:
                queue.remove(pending)
                return True
            return False

    def attach(self, side: str, sink: Sink, who: str) -> str | None:
        """Connect ``sink`` as ``side``; a mount program finding another one there is refused:
        the reason is returned and the refusal logged."""
        with self._cond:
            party = self._parties[side]
            if side == MOUNT and party.sink is not None:
                self._refused += 1
                reason = f"the shared mount port {self.spec.where} is in use by {party.who}; one mount program at a time"
                log.warning("refused a second mount program (%s): %s", who, reason)
                return reason
            self._drop_queue(party, "a new connection took its place")
            party.sink, party.who, party.since = sink, who, time.time()
            party.splitter = Splitter()
        if side == MOUNT:
            log.info("mount program %s now uses the shared port %s", who, self.spec.where)
        return None

    def detach(self, side: str, sink: Sink) -> None:
        """The party left: its waiting commands are dropped; an exchange of its already on the
        line runs to its end (the line must stay in step) and the answer is dropped."""
        with self._cond:
            party = self._parties[side]
            if party.sink is not sink:
                return
            who = party.who
            party.sink, party.who = None, ""
            self._drop_queue(party, "its program left")
            self._cond.notify_all()
        if side == MOUNT:
            log.info("mount program %s left the shared port %s", who, self.spec.where)

    def line_error(self) -> str | None:
        with self._cond:
            return None if self._port is not None else self._line_error

    def status(self) -> dict[str, Any]:
        with self._cond:
            mount = self._parties[MOUNT]
            return {
                "endpoint": self.spec.text,
                "where": self.spec.where,
                "port": self.url,
                "line": "open" if self._port is not None else f"down: {self._line_error}",
                "mount_program": mount.who or None,
                "mount_program_since": mount.since if mount.who else None,
                "refused": self._refused,
                "focuser": vars(self._parties[FOCUSER].stats).copy(),
                "mount": vars(mount.stats).copy(),
            }

    # ------------------------------------------------------------------ the line

    def _read_line(self) -> None:
        reported = ""
        while not self._stopping:
            port = self._port
            if port is None:
                try:
                    port = self._opener(self.url, self.baud, LINE_READ_S, rtscts=self.rtscts)
                except (serial.SerialException, OSError, ValueError) as exc:
                    if str(exc) != reported:
                        reported = str(exc)
                        log.warning("cannot open the mount's port %s to share it: %s; trying again every %g s", self.url, exc, REOPEN_S)
                    with self._cond:
                        self._line_error = str(exc)
                        self._cond.wait_for(lambda: self._stopping, REOPEN_S)
                    continue
                reported = ""
                with self._cond:
                    self._port = port
                    self._cond.notify_all()
                log.info("the mount's port %s is open, shared at %s", self.url, self.spec.where)
            try:
                port.timeout = LINE_READ_S
                data = port.read(max(1, port.in_waiting))
            except RECEIVE_ERRORS as exc:
                self._line_failed(port, exc)
                continue
            if data:
                with self._cond:
                    self._route(data)
                    self._cond.notify_all()

    def _line_failed(self, port: serial.Serial, exc: BaseException) -> None:
        with self._cond:
            if self._port is not port:
                return
            self._port = None
            self._line_error = str(exc)
            self._fail_queued(f"the mount's port {self.url} failed: {exc}")
            self._cond.notify_all()
        log.warning("the shared mount port %s failed: %s; opening it again", self.url, exc)
        try:
            port.close()
        except PORT_ERRORS:
            pass

    def _close_line(self) -> None:
        with self._cond:
            port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except PORT_ERRORS:
                pass

    def _fail_queued(self, reason: str) -> None:
        for party in self._parties.values():
            self._drop_queue(party, reason)

    @staticmethod
    def _drop_queue(party: _Party, reason: str) -> None:
        """Under the lock: ``party``'s waiting commands will never reach the line; whoever waits
        on one learns why."""
        for pending in party.queue:
            pending.failed = reason
            pending.sent.set()
        party.queue.clear()

    def _route(self, data: bytes) -> None:
        turn = self._turn
        if turn is not None and not turn.done:
            routed = turn.exchange.route(data)
            turn.done = routed.done
            turn.answer += routed.asker
            if turn.done:
                self._give(turn.pending.sink, bytes(turn.answer))
        else:
            last = turn or self._last
            routed = self.framing.idle(data, None if last is None else last.exchange)
            if last is not None:
                self._give(last.pending.sink, routed.asker)
            if self.framing.quiet_after_timeout_s and self._quiet_until:
                self._quiet_until = time.monotonic() + self.framing.quiet_after_timeout_s
        self._give(self._parties[MOUNT].sink, routed.others)

    @staticmethod
    def _give(sink: Sink | None, data: bytes) -> None:
        if data and sink is not None:
            sink.send(data)

    # ------------------------------------------------------------------ turns

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                pending = self._await_next()
                if pending is None:
                    return
                port = self._port
                assert port is not None
                turn = _Turn(pending, self.framing.exchange(pending.command), time.monotonic() + self.turn_limit_s)
                self._turn = turn
                self._parties[pending.side].stats.waited(time.monotonic() - pending.queued_at)
            try:
                if self.rtscts:
                    write_with_handshake(port, pending.command, self.baud)
                else:
                    port.write(pending.command)
                    port.flush()
            except PORT_ERRORS as exc:
                with self._cond:
                    pending.failed = f"the mount's port {self.url} failed: {exc}"
                    self._turn = None
                pending.sent.set()
                self._line_failed(port, exc)
                continue
            with self._cond:
                turn.deadline = time.monotonic() + self.turn_limit_s
                pending.sent.set()
                self._cond.notify_all()

    def _await_next(self) -> Pending | None:
        """Under the lock: end the running exchange when answered or out of time, then wait for
        the line to be free and the next command, the other party's first when both wait."""
        while not self._stopping:
            now = time.monotonic()
            turn = self._turn
            if turn is not None:
                if not turn.done and now < turn.deadline:
                    self._cond.wait(turn.deadline - now)
                    continue
                self._finish(turn, now)
                continue
            if now < self._quiet_until:
                self._cond.wait(self._quiet_until - now)
                continue
            self._quiet_until = 0.0
            chosen = self._choose()
            if chosen is not None and self._port is not None:
                return chosen
            self._cond.wait()
        return None

    def _choose(self) -> Pending | None:
        other = FOCUSER if self._last_side == MOUNT else MOUNT
        for side in (other, self._last_side):
            queue = self._parties[side].queue
            if queue:
                self._last_side = side
                return queue.popleft()
        return None

    def _finish(self, turn: _Turn, now: float) -> None:
        stats = self._parties[turn.pending.side].stats
        if turn.done:
            stats.answered += 1
        else:
            stats.timed_out += 1
            self._give(turn.pending.sink, bytes(turn.answer))  # what came of it, however little
            self._quiet_until = now + self.framing.quiet_after_timeout_s
            log.debug("shared port %s: no answer to the %s's %s within %g s", self.spec.where, turn.pending.side,
                      turn.pending.command.hex(" "), self.turn_limit_s)
        self._last, self._turn = turn, None
