"""Running simulators for tests: import these from any test module.

``running_pty_simulator`` is a context manager; ``pty_simulator`` is the pytest fixture built on
it (time scale 50 unless a test marks ``@pytest.mark.parametrize("pty_simulator", [200], indirect=True)``).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alpaca_focuser.simulator import FocusMotor
from alpaca_focuser.simulator.pty_server import PtySimulator

DEFAULT_TEST_TIME_SCALE = 50.0


@contextlib.contextmanager
def running_pty_simulator(time_scale: float = DEFAULT_TEST_TIME_SCALE, **motor_options: Any) -> Iterator[tuple[FocusMotor, str]]:
    """A FocusMotor served on a pty behind a temporary symlink; yields (motor, path)."""
    motor = FocusMotor(time_scale=time_scale, **motor_options)
    with tempfile.TemporaryDirectory(prefix="focuser-sim-") as folder:
        simulator = PtySimulator(motor, Path(folder) / "focuser")
        with simulator:
            yield motor, str(simulator.path)


@pytest.fixture
def pty_simulator(request: pytest.FixtureRequest) -> Iterator[tuple[FocusMotor, str]]:
    time_scale = getattr(request, "param", DEFAULT_TEST_TIME_SCALE)
    with running_pty_simulator(time_scale) as running:
        yield running
