"""Where a temperature comes from: an Alpaca ObservingConditions device, a 1-wire sensor or a file.

The Celestron Focus Motor has no sensor of its own, so the server reads one the user already has.
Every source answers ``read()`` with one reading in degrees Celsius and the time it was measured,
or raises ``SourceError`` with a sentence a user can act on. Sources are only ever read by the
background reader (reader.py), never on a client's request, so a slow weather station can never
delay an Alpaca call. What they read is bounded and strict (inputs.py).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..config.temperature_spec import SourceSpec
from ..network.outbound import TIMEOUT_S, AlpacaDevice, Bounds, OutboundError
from ..safe_text import clipped
from .inputs import SourceError, decimal, first_bytes, integer, last_line

W1_ROOT = Path("/sys/bus/w1/devices")
# 1-wire family codes of the Maxim temperature sensors whose w1_slave file reads "t=<millidegrees>".
W1_TEMPERATURE_FAMILIES = ("10", "22", "28", "3b", "42")
_W1_ID = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{12}$")
DS18B20_POWER_ON_MILLIDEGREES = 85000  # what the sensor answers before its first conversion
PLAUSIBLE_C = (-80.0, 80.0)  # anything outside is a broken sensor, not weather
ALPACA_TIMEOUT_S = TIMEOUT_S

@dataclass(frozen=True)
class Reading:
    celsius: float
    measured_at: float  # time.time() of the measurement


class Source(Protocol):
    description: str  # the configured spec, shown in messages

    def read(self) -> Reading: ...


def open_source(spec: SourceSpec, w1_root: Path = W1_ROOT) -> Source:
    if spec.kind == "alpaca":
        return AlpacaSource(spec.text, spec.host, spec.port, spec.number)
    if spec.kind == "w1":
        return W1Source(spec.text, spec.sensor, w1_root)
    return FileSource(spec.text, Path(spec.path))


def _plausible(celsius: float, where: str) -> float:
    if not math.isfinite(celsius) or not PLAUSIBLE_C[0] <= celsius <= PLAUSIBLE_C[1]:
        raise SourceError(f"{where} gave {celsius} °C, which is no air temperature; check the sensor")
    return celsius


class FileSource:
    """A file holding a number in °C, written by anything (a script, another program).

    The reading counts as measured when the file was last written, so a script that died leaves
    its last value to go stale instead of being served for ever. A file that is appended to gives
    its last line.
    """

    def __init__(self, description: str, path: Path) -> None:
        self.description = description
        self.path = path

    def read(self) -> Reading:
        what = f"the temperature file {self.path}"
        try:
            line, written = last_line(self.path, what)
        except FileNotFoundError:
            raise SourceError(f"{what} does not exist; check the path, and that the program writing it runs") from None
        except OSError as exc:
            raise SourceError(f"cannot read {what}: {exc.strerror or exc}") from None
        return Reading(_plausible(decimal(line, what), what), written)


class W1Source:
    """A DS18B20 (or another Maxim 1-wire thermometer) through the Linux w1 driver's files."""

    def __init__(self, description: str, sensor: str, root: Path = W1_ROOT) -> None:
        self.description = description
        self.sensor = sensor
        self.root = root

    def sensors(self) -> list[str]:
        try:
            names = sorted(entry.name for entry in self.root.iterdir())
        except OSError:
            return []
        return [name for name in names if _W1_ID.match(name) and name[:2] in W1_TEMPERATURE_FAMILIES]

    def _folder(self) -> Path:
        found = self.sensors()
        if self.sensor:
            if self.sensor not in found:
                seen = ", ".join(found) or "none"
                raise SourceError(f"the 1-wire sensor {self.sensor} is not under {self.root} (sensors there: {seen}); check its wiring and id")
            return self.root / self.sensor
        if not found:
            raise SourceError(
                f"no 1-wire temperature sensor under {self.root}: enable 1-wire (dtoverlay=w1-gpio in the Pi's config.txt, "
                "then reboot) and check the sensor's wiring and pull-up resistor"
            )
        if len(found) > 1:
            raise SourceError(f'several 1-wire sensors under {self.root} ({", ".join(found)}): choose one with temperature = "w1:ID"')
        return self.root / found[0]

    def read(self) -> Reading:
        folder = self._folder()
        try:
            lines = first_bytes(folder / "w1_slave", f"the 1-wire sensor file {folder / 'w1_slave'}").splitlines()
        except OSError as exc:
            raise SourceError(f"cannot read the 1-wire sensor {folder.name}: {exc.strerror or exc}") from None
        measured_at = time.time()
        if len(lines) < 2 or b"t=" not in lines[1]:
            raise SourceError(f"the 1-wire sensor {folder.name} gave no temperature (its answer was cut short); check its wiring")
        if not lines[0].strip().endswith(b"YES"):
            raise SourceError(f"the 1-wire sensor {folder.name} failed its checksum (a noisy or long cable?)")
        millidegrees = integer(lines[1].rsplit(b"t=", 1)[1].strip(), f"the 1-wire sensor {folder.name}")
        if millidegrees == DS18B20_POWER_ON_MILLIDEGREES:
            raise SourceError(f"the 1-wire sensor {folder.name} answered 85 °C, its power-on value: it lost power or its supply is weak")
        return Reading(_plausible(millidegrees / 1000.0, f"the 1-wire sensor {folder.name}"), measured_at)


class AlpacaSource:
    """The Temperature of an Alpaca ObservingConditions device, read through the bounded outbound
    client (network/outbound.py): a station that says it is not connected is asked to connect
    once, then read again."""

    def __init__(self, description: str, host: str, port: int, number: int, timeout: float = ALPACA_TIMEOUT_S) -> None:
        self.description = description
        self.device = AlpacaDevice(host, port, "observingconditions", number, "the weather device", Bounds(timeout_s=timeout))
        self.base = self.device.base

    def read(self) -> Reading:
        try:
            value = self.device.value("temperature")
        except OutboundError as exc:
            raise SourceError(str(exc)) from None
        measured_at = time.time()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SourceError(f"{self.base}/temperature answered {clipped(repr(value), 40)}, not a number of degrees Celsius")
        return Reading(_plausible(float(value), f"{self.base}/temperature"), measured_at)
