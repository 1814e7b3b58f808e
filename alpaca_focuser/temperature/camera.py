"""The imaging camera that temperature compensation waits for.

A compensation move during an exposure smears that frame, so with ``camera`` set, compensation
moves wait while the camera's CameraState is 1..4 (waiting, exposing, reading, downloading) and
run between frames. The camera is read in a thread of its own through the bounded outbound client
(network/outbound.py): compensation only looks at the last answer, so a camera that hangs or
vanishes never holds up compensation's own thread, the status action, or any client's request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config.temperature_spec import CameraSpec
from ..network.outbound import AlpacaDevice, Bounds, OutboundError

log = logging.getLogger(__name__)

BUSY_STATES = {1: "waiting", 2: "exposing", 3: "reading", 4: "downloading"}
POLL_S = 0.5  # how often the camera is asked while compensation is on
TIMEOUT_S = 2.0  # a camera slower than this counts as unreachable for that read


@dataclass(frozen=True)
class CameraView:
    """The camera's last answer: ``busy`` names a state compensation waits through, ``problem``
    says why the camera could not be read."""

    busy: str = ""
    problem: str = ""
    read_at: float = 0.0


class CameraWatch:
    def __init__(self, spec: CameraSpec, wanted: Callable[[], bool], poll_s: float = POLL_S, timeout_s: float = TIMEOUT_S) -> None:
        self.spec = spec
        self.device = AlpacaDevice(spec.host, spec.port, "camera", spec.number, "the camera", Bounds(timeout_s=timeout_s))
        self._wanted = wanted  # read only while compensation is on
        self._poll_s = poll_s
        self._view = CameraView()  # read_at 0: not read yet
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def view(self) -> CameraView:
        return self._view

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"camera {self.spec.text}", daemon=True)
        self._thread.start()

    def close(self, wait: bool = True) -> None:
        """Stop reading; without ``wait`` a read under way finishes on its own (within its timeout)."""
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s if self._wanted() else 0.2):
            if self._wanted():
                self.read()

    def read(self) -> CameraView:
        """Ask the camera once; the answer (or why there is none) becomes the view."""
        previous = self._view
        try:
            state = self.device.value("camerastate")
            if isinstance(state, bool) or not isinstance(state, int) or not 0 <= state <= 5:
                raise OutboundError(f"{self.device.base}/camerastate answered {state!r}, not a CameraState from 0 to 5")
            view = CameraView(busy=BUSY_STATES.get(state, ""), read_at=time.time())
        except OutboundError as exc:
            view = CameraView(problem=str(exc), read_at=time.time())
        if view.problem and view.problem != previous.problem:
            log.warning("Cannot read the camera for temperature compensation: %s", view.problem)
        elif previous.problem and not view.problem:
            log.info("The camera %s answers again", self.spec.text)
        self._view = view
        return view
