"""What the pty and TCP servers share: one thread that serves the motor until stopped."""

from __future__ import annotations

import threading
from typing import Protocol, Self

from .motor import FocusMotor


class Responder(Protocol):
    """The far end of one connection: the focuser's firmware, or a mount's port onto its bus."""

    def feed(self, data: bytes) -> None: ...

    def take(self) -> bytes: ...

    def next_due(self) -> float | None: ...

    def reset(self) -> None: ...


class SimulatorServer:
    """Start opens the endpoint and runs ``_serve`` in a thread; stop ends it and saves NVRAM."""

    def __init__(self, motor: FocusMotor) -> None:
        self.motor = motor
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._open()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name=self._thread_name(), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close()
        self.motor.save()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _open(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        raise NotImplementedError

    def _thread_name(self) -> str:
        raise NotImplementedError
