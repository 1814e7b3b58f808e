"""The grammar of the ``temperature`` setting (which sources there are and how each is written)
and of the ``camera`` that temperature compensation waits for.

It lives with the configuration, one floor below temperature/, because the configuration checks
the settings when it loads the file and the temperature service opens what they name.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from ..limits import NETWORK_PORT_MAX

_W1_ID = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{12}$")

SPEC_HELP = (
    '"alpaca://HOST:PORT/observingconditions/N" (an Alpaca weather device), "w1" or "w1:28-XXXXXXXXXXXX" '
    '(a DS18B20 1-wire sensor), or "file:/PATH" (a file holding degrees Celsius); "" for none'
)


@dataclass(frozen=True)
class SourceSpec:
    """A checked ``temperature`` setting; ``open_source`` turns it into a Source."""

    kind: str  # "alpaca", "w1" or "file"
    text: str
    host: str = ""
    port: int = 0
    number: int = 0
    sensor: str = ""  # a 1-wire id, or "" for the only sensor there is
    path: str = ""


def parse_spec(text: str) -> SourceSpec:
    """Check a ``temperature`` setting; ValueError says what it must be."""
    spec = text.strip()
    if spec.lower().startswith("alpaca://"):
        return _alpaca_spec(spec)
    if spec.lower() == "w1":
        return SourceSpec("w1", spec)
    if spec.lower().startswith("w1:"):
        sensor = spec[3:].strip().lower()
        if not _W1_ID.match(sensor):
            raise ValueError(f'a 1-wire sensor id like "w1:28-0123456789ab" (family, dash, 12 hex digits), not "w1:{spec[3:]}"')
        return SourceSpec("w1", spec, sensor=sensor)
    if spec.lower().startswith("file:"):
        path = spec[5:]
        if not path.strip():
            raise ValueError('"file:" followed by the path of the file, like "file:/run/sky-temperature"')
        return SourceSpec("file", spec, path=path)
    raise ValueError(SPEC_HELP)


def _alpaca_spec(spec: str) -> SourceSpec:
    example = '"alpaca://HOST:PORT/observingconditions/N", like "alpaca://192.168.1.20:11111/observingconditions/0"'
    parts = urllib.parse.urlsplit(spec)
    try:
        port = parts.port
    except ValueError:
        port = None
    match = re.fullmatch(r"/observingconditions/(\d{1,4})/?", parts.path)
    if not parts.hostname or port is None or not 1 <= port <= NETWORK_PORT_MAX or match is None or parts.query:
        raise ValueError(example)
    return SourceSpec("alpaca", spec, host=parts.hostname, port=port, number=int(match.group(1)))


CAMERA_HELP = '"alpaca://HOST:PORT/camera/N", like "alpaca://192.168.1.20:11111/camera/0", or "" for none'


@dataclass(frozen=True)
class CameraSpec:
    text: str
    host: str
    port: int
    number: int


def parse_camera(text: str) -> CameraSpec:
    """Check a ``camera`` setting; ValueError says what it must be."""
    parts = urllib.parse.urlsplit(text.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    match = re.fullmatch(r"/camera/(\d{1,4})/?", parts.path)
    if parts.scheme.lower() != "alpaca" or not parts.hostname or port is None or not 1 <= port <= NETWORK_PORT_MAX or match is None:
        raise ValueError(CAMERA_HELP)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(CAMERA_HELP)
    return CameraSpec(text.strip(), parts.hostname, port, int(match.group(1)))
