"""The worker thread and the lock callers share with it.

The worker alone drives the machine (machine.py) and does the port's I/O. Callers take ``_cond``
only to check a request against the published snapshot and to hand over orders; the worker takes
it only to pick the orders up and to publish what it did, never while it talks to the focuser. So
a status read or a Halt never waits on the serial line, and nothing slow ever runs under the lock.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from .clock import Clock
from .interface import FocuserState
from .machine import Machine
from .orders import Orders
from .presets import SettingsStore
from .snapshot import View, compose, view_of


class WorkerHost:
    def __init__(self, store: SettingsStore, clock: Clock, machine: Machine, threaded: bool) -> None:
        self._store = store
        self._clock = clock
        self._machine = machine  # the worker's alone: callers read the published view
        self._cond = threading.Condition()
        self._orders = Orders()
        self._threaded = threaded
        self._thread: threading.Thread | None = None
        self._exit = False
        self._view: View = view_of(machine)
        self._state: FocuserState = compose(self._view, store.current.reverse, self._orders)

    def _published(self) -> None:
        """Called with ``_cond`` held after every step, for what waits on the worker."""

    def _post(self) -> None:
        """Recompose the snapshot with the orders just given and wake the worker; ``_cond`` held."""
        self._state = compose(self._view, self._store.current.reverse, self._orders)
        self._cond.notify_all()

    def _await(self, condition: Callable[[], bool], limit_s: float) -> bool:
        if not self._threaded:
            return self.run_until(condition, limit_s)
        with self._cond:
            return self._cond.wait_for(condition, limit_s)

    def step(self) -> None:
        """One round of the worker: take the orders, let the machine act, publish what it did."""
        with self._cond:
            orders = dataclasses.replace(self._orders)
            self._orders.order = None
            self._orders.stop = None
            self._orders.relink = False
            self._orders.probes = []
        self._machine.accept(orders)
        self._machine.step()
        view = view_of(self._machine)
        with self._cond:
            self._view = view
            self._state = compose(view, self._store.current.reverse, self._orders)
            self._published()
            self._cond.notify_all()
        self._machine.journal.flush()  # after the clients were told, so a slow disk never delays them

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._exit:
                    if self._orders_waiting():
                        break
                    delay = self._machine.next_wake() - self._clock.monotonic()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)
                if self._exit:
                    return
            self.step()

    def _orders_waiting(self) -> bool:
        orders = self._orders
        return (
            orders.order is not None
            or orders.stop is not None
            or orders.relink
            or bool(orders.probes)
            or orders.wanted != self._view.wanted
        )

    def run_until(self, until: Callable[[], bool], limit_s: float) -> bool:
        """Without a worker thread (tests on a fake clock): step until ``until`` or the time limit."""
        deadline = self._clock.monotonic() + limit_s
        while not until():
            now = self._clock.monotonic()
            if now > deadline:
                return False
            wake = self._machine.next_wake()
            if wake > now and not self._orders_waiting():
                self._clock.sleep(min(wake, deadline + 0.001) - now)
            self.step()
        return True

    def _ensure_worker(self) -> None:
        if not self._threaded:
            return
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._exit = False
                self._thread = threading.Thread(target=self._run, name=f"focuser {self._store.current.name}", daemon=True)
                self._thread.start()

    def _end_worker(self) -> None:
        with self._cond:
            self._exit = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._machine.close()
