"""PtySimulator: the simulated focuser behind a pseudo-terminal, a real tty path that any serial
program (INDI, minicom, pyserial) can open as if it were the focuser's /dev/ttyACM0."""

from __future__ import annotations

import errno
import logging
import os
import pty
import select
import tty
from collections.abc import Callable
from pathlib import Path

from .motor import FocusMotor
from .responder import AuxResponder
from .serving import Responder, SimulatorServer

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.05  # how soon the loop notices stop() and the end of an unplug


def replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically; refuse to clobber anything but a symlink."""
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink; choose another path for the simulated focuser")
    temp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    if temp.is_symlink():
        temp.unlink()
    os.symlink(target, temp)
    os.replace(temp, link)


class PtySimulator(SimulatorServer):
    """Serves ``motor`` on a fresh pty whose slave is reachable through the symlink ``link_path``.

    The simulator keeps its own slave descriptor open, so a client closing the port does not
    hang the pty up, and the line is raw so no byte is translated. ``responder`` makes what
    answers behind the pty (the focuser itself unless given: a mount's port, a hand controller).
    """

    def __init__(self, motor: FocusMotor, link_path: str | os.PathLike[str], responder: Callable[[], Responder] | None = None) -> None:
        super().__init__(motor)
        self.path = Path(link_path)
        self.device: str | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._make_responder: Callable[[], Responder] = responder or (lambda: AuxResponder(motor))
        self._responder: Responder | None = None
        self._next_path: Path | None = None

    def _open(self) -> None:
        self._plug()

    def _close(self) -> None:
        self._unplug()

    def _thread_name(self) -> str:
        return f"pty simulator {self.path}"

    def unplug(self, seconds: float | None, new_path: str | os.PathLike[str] | None = None) -> None:
        """Pull the cable: the pty and its symlink vanish, and come back after ``seconds``
        (never, if None, until the fault is cleared), under ``new_path`` if given."""
        self.motor.set_fault("unplug", seconds=seconds, new_path=None if new_path is None else str(new_path))

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def _plug(self) -> None:
        master, slave = pty.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.device = os.ttyname(slave)
        try:
            replace_symlink(self.path, self.device)
        except OSError:
            os.close(master)
            os.close(slave)
            raise
        self._master, self._slave = master, slave
        self._responder = self._make_responder()
        log.info("simulated focuser on %s (%s)", self.path, self.device)

    def _unplug(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self._responder = None
        if self.path.is_symlink():
            self.path.unlink()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            unplug = self.motor.fault("unplug")
            if unplug is not None:
                if self.plugged:
                    log.info("simulated focuser unplugged from %s", self.path)
                    self._unplug()
                    self._next_path = Path(unplug["new_path"]) if unplug["new_path"] else None
                self._stopping.wait(POLL_INTERVAL)
                continue
            if not self.plugged:
                if self._next_path is not None:
                    self.path, self._next_path = self._next_path, None
                self._plug()
            self._exchange()

    def _exchange(self) -> None:
        assert self._master is not None and self._responder is not None
        due = self._responder.next_due()
        wait = POLL_INTERVAL if due is None else min(POLL_INTERVAL, due)
        readable, _, _ = select.select([self._master], [], [], wait)
        if readable:
            try:
                data = os.read(self._master, 4096)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EIO):
                    raise
                data = b""
            if data:
                self._responder.feed(data)
        out = self._responder.take()
        if out:
            try:
                written = os.write(self._master, out)
            except BlockingIOError:
                written = 0
            if written < len(out):
                log.warning("nobody reads %s: dropped %d reply bytes", self.path, len(out) - written)
