"""Where a mount program finds the shared port: a TCP port or a pseudo-terminal.

Each endpoint serves one program at a time as the hub's ``mount program`` party: what it sends
goes to the hub, what the hub gives it waits in an ``Outbox`` that the endpoint's thread writes
out when the program reads. The outbox is bounded and drops whole answers when a program stops
reading, so a slow or stuck reader never holds up the hub or the focuser. A second program on a
TCP endpoint gets one line saying who has it, and is closed.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from .hub import MOUNT, PortHub
from .spec import ShareSpec

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 64 * 1024  # answers a program has not read yet; beyond it, new ones are dropped
IDLE_WAIT_S = 0.05  # how often a pty nobody holds is looked at again


class Outbox:
    """The bytes waiting for a program; ``send`` never blocks."""

    def __init__(self, wake: socket.socket) -> None:
        self._data = bytearray()
        self._lock = threading.Lock()
        self._wake = wake
        self.dropped = 0

    def send(self, data: bytes) -> None:
        with self._lock:
            if len(self._data) + len(data) > OUTBOX_LIMIT:
                if not self.dropped:
                    log.warning("the mount program does not read what the mount sends; dropping it until it does")
                self.dropped += len(data)
                return
            self._data += data
        with contextlib.suppress(OSError):
            self._wake.send(b"\0")

    def pending(self) -> bool:
        with self._lock:
            return bool(self._data)

    def write_to(self, write: Callable[[bytes], int]) -> None:
        with self._lock:
            if not self._data:
                return
            try:
                written = write(bytes(self._data))
            except (BlockingIOError, InterruptedError):
                return
            del self._data[:written]


class Endpoint(ABC):
    """A thread serving one endpoint; ``stop`` closes it and lets the program go."""

    def __init__(self, hub: PortHub, spec: ShareSpec) -> None:
        self.hub = hub
        self.spec = spec
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)  # a full wake-up line already means "wake up": the hub never waits on it
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._outbox: Outbox | None = None

    def start(self) -> Endpoint:
        self._open()
        self._thread = threading.Thread(target=self._run_guarded, name=f"shared port endpoint {self.spec.text}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._close()
        self._wake_r.close()
        self._wake_w.close()

    def _run_guarded(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("the shared port endpoint %s stopped", self.spec.where)
            raise

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_r.recv(4096)

    def _attach(self, who: str) -> str | None:
        outbox = Outbox(self._wake_w)
        refused = self.hub.attach(MOUNT, outbox, who)
        if refused is None:
            self._outbox = outbox
        return refused

    def _detach(self) -> None:
        if self._outbox is not None:
            self.hub.detach(MOUNT, self._outbox)
            self._outbox = None

    @abstractmethod
    def _open(self) -> None:
        """Make the endpoint (listen, or create the pty); raises OSError saying why it cannot."""

    @abstractmethod
    def _close(self) -> None:
        """Let the program go and remove the endpoint."""

    @abstractmethod
    def _run(self) -> None:
        """Serve the endpoint until ``stop``."""


class TcpEndpoint(Endpoint):
    def _open(self) -> None:
        family = socket.AF_INET6 if ":" in self.spec.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.spec.host, self.spec.port))
            listener.listen(4)
        except OSError as exc:
            listener.close()
            raise OSError(f"cannot share the mount's port at {self.spec.where}: {exc.strerror or exc}") from exc
        listener.setblocking(False)
        self._listener = listener
        self._client: socket.socket | None = None

    def _close(self) -> None:
        self._drop_client()
        self._listener.close()

    def _drop_client(self) -> None:
        self._detach()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _run(self) -> None:
        while not self._stopping:
            readers: list[socket.socket] = [self._listener, self._wake_r]
            writers: list[socket.socket] = []
            if self._client is not None:
                readers.append(self._client)
                if self._outbox is not None and self._outbox.pending():
                    writers.append(self._client)
            readable, writable, _ = select.select(readers, writers, [], 1.0)
            if self._wake_r in readable:
                self._drain_wake()
            if self._listener in readable:
                self._accept()
            if self._client is not None and self._client in readable:
                self._receive(self._client)
            if self._client is not None and self._client in writable and self._outbox is not None:
                try:
                    self._outbox.write_to(self._client.send)
                except OSError as exc:
                    log.info("mount program at %s: %s", self.spec.where, exc)
                    self._drop_client()

    def _accept(self) -> None:
        try:
            conn, address = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        who = f"{address[0]}:{address[1]} over TCP"
        refused = self._attach(who)
        if refused is not None:
            with contextlib.suppress(OSError):
                conn.sendall(f"alpaca-focuser: {refused}\r\n".encode())
            conn.close()
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = conn

    def _receive(self, client: socket.socket) -> None:
        try:
            data = client.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_client()
            return
        self.hub.submit(MOUNT, data)


class PtyEndpoint(Endpoint):
    """A pseudo-terminal at ``spec.path``. The server keeps only the master side open, so the
    line hangs up whenever no program holds the serial side: that is how it knows a program
    came or went."""

    def _open(self) -> None:
        import pty  # POSIX only, as pseudo-terminals are
        import tty

        path = Path(self.spec.path)
        if path.exists() and not path.is_symlink():
            raise OSError(f"cannot share the mount's port at {path}: it exists and is not a link this server made; choose another path")
        master, slave = pty.openpty()
        tty.setraw(slave)
        self.device = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(master, False)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            os.symlink(self.device, temp)
            os.replace(temp, path)
        except OSError as exc:
            os.close(master)
            raise OSError(f"cannot share the mount's port at {path}: {exc.strerror or exc}") from exc
        self._master = master
        self._poll = select.poll()
        self._poll.register(master, select.POLLIN)
        self._poll.register(self._wake_r, select.POLLIN)

    def _close(self) -> None:
        self._detach()
        os.close(self._master)
        path = Path(self.spec.path)
        if path.is_symlink() and os.readlink(path) == self.device:
            path.unlink()

    def _run(self) -> None:
        while not self._stopping:
            self._poll.modify(self._master, select.POLLIN | (select.POLLOUT if self._outbox and self._outbox.pending() else 0))
            events = dict(self._poll.poll(1000))
            if self._wake_r.fileno() in events:
                self._drain_wake()
            flags = events.get(self._master, 0)
            if flags & select.POLLHUP:
                if self._outbox is not None:
                    self._detach()
                    self._forget_unread()
                self._wake_r.settimeout(IDLE_WAIT_S)
                with contextlib.suppress(OSError):
                    self._wake_r.recv(4096)
                self._wake_r.setblocking(False)
                continue
            if self._outbox is None:
                self._attach(self._holders())
            if flags & select.POLLIN:
                self._receive()
            if flags & select.POLLOUT and self._outbox is not None:
                self._outbox.write_to(lambda data: os.write(self._master, data))

    def _forget_unread(self) -> None:
        """What the program that left did not read must not reach the next one."""
        import termios

        with contextlib.suppress(termios.error):
            termios.tcflush(self._master, termios.TCIOFLUSH)

    def _receive(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            return
        if data:
            self.hub.submit(MOUNT, data)

    def _holders(self) -> str:
        """The programs that hold the pty open, by name and pid, for the log and the pages."""
        found = []
        with contextlib.suppress(OSError):  # no /proc (macOS): the program goes unnamed
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    for fd in (entry / "fd").iterdir():
                        if os.readlink(fd) == self.device:
                            found.append(f"{(entry / 'comm').read_text().strip()} (pid {entry.name})")
                            break
        held = ", ".join(found) if found else "a program"
        return f"{held} on {self.spec.path}"


def endpoint_for(hub: PortHub, spec: ShareSpec) -> Endpoint:
    return PtyEndpoint(hub, spec) if spec.kind == "pty" else TcpEndpoint(hub, spec)
