"""The member table: every Alpaca member of a focuser as data, one line each.

Each entry says which HTTP method reaches it, which parameters it takes and of what type, what it
asks of the device, and whether it needs a connection. The resource in ``resources.py`` does the
rest the same way for every member, and DeviceState is assembled from the entries that name an
operational state, so it cannot drift from the members themselves.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..device import FocuserState
from ..errors import NotImplementedAlpaca
from . import actions
from .envelope import NO_VALUE, Encoded
from .protocol import BOOL, INT32, TEXT, Param
from .served import ServedDevice

INTERFACE_VERSION = 4
DRIVER_VERSION = ".".join(__version__.split(".")[:2])
DRIVER_INFO = (
    f"alpaca-focuser {__version__}: ASCOM Alpaca server for the Celestron Focus Motor "
    "(SCT and EdgeHD), speaking Celestron's AUX protocol over the motor's USB port"
)
DESCRIPTION_LIMIT = 64  # FITS header limit, IFocuserV3 Description remarks


@dataclass(frozen=True)
class Operation:
    """One HTTP method of one member."""

    call: Callable[..., Any]  # (served, **typed parameters) -> Value
    params: tuple[Param, ...] = ()
    empty: Any = NO_VALUE  # the Value sent alongside an error; NO_VALUE when there is no Value
    needs_connection: bool = True  # NotConnected (0x407) while disconnected
    state_name: str | None = None  # its name in DeviceState
    reads: Callable[[FocuserState], Any] | None = None  # for DeviceState: the value from one snapshot
    per_client: bool = False  # the call also gets ``client``, the request's ClientID (0 when none)


def get(call: Callable[[ServedDevice], Any], empty: Any, needs_connection: bool = True) -> Operation:
    return Operation(call, empty=empty, needs_connection=needs_connection)


def reading(read: Callable[[FocuserState], Any], empty: Any, state_name: str | None = None) -> Operation:
    """A GET answered from the device's state snapshot, never waiting on the hardware."""
    return Operation(lambda served: read(served.device.state), empty=empty, state_name=state_name, reads=read)


def put(call: Callable[..., Any], *params: Param, returns: Any = NO_VALUE, needs_connection: bool = True) -> Operation:
    return Operation(call, params=params, empty=returns, needs_connection=needs_connection)


def per_client(operation: Operation) -> Operation:
    """Connections are counted per client, so these calls are told which client asks."""
    return dataclasses.replace(operation, per_client=True)


def not_implemented(what: str) -> Callable[..., Any]:
    def refuse(served: ServedDevice, **_: Any) -> Any:
        raise NotImplementedAlpaca(f"{served.device.name} {what}")

    return refuse


def set_temp_comp(served: ServedDevice, tempcomp: bool) -> None:
    if served.temperature is not None:
        served.temperature.set_enabled(tempcomp)
    elif tempcomp:
        raise NotImplementedAlpaca(
            f"{served.device.name} has no temperature sensor, so it cannot compensate for temperature "
            "(TempCompAvailable is false)"
        )


def temperature(served: ServedDevice) -> float:
    if served.temperature is None:
        raise NotImplementedAlpaca(
            f"{served.device.name} has no temperature sensor; give it one with the temperature setting of this focuser "
            "in the configuration file (an Alpaca weather device, a 1-wire sensor or a file)"
        )
    return served.temperature.temperature()


def step_size(served: ServedDevice) -> float:
    size = served.device.step_size_um
    if size is None:
        raise NotImplementedAlpaca(
            f"The step size of {served.device.name} is not known: set step_size_um (microns per step) "
            "for this focuser in the configuration file"
        )
    return size


def run_action(served: ServedDevice, action: str, parameters: list[str], client: int) -> str:
    return actions.run_action(served.device, action, parameters, served.temperature, connection=served.connection, client=client)


# Per served device: the snapshot and temperature DeviceState was last made from, and the reply.
_LAST_STATE: dict[int, tuple[FocuserState, float | None, Encoded]] = {}


def device_state(served: ServedDevice) -> Encoded:
    """Every operational value from one snapshot, and the time that snapshot was measured; made
    once per snapshot (and temperature), since clients read it far more often than it changes."""
    snapshot = served.device.state
    celsius = served.temperature.health().celsius if served.temperature is not None else None
    last = _LAST_STATE.get(id(served))
    if last is not None and last[0] is snapshot and last[1] == celsius:
        return last[2]
    items = [
        {"Name": operation.state_name, "Value": operation.reads(snapshot)}
        for operation in STATE_OPERATIONS
        if operation.reads is not None
    ]
    if celsius is not None:  # a stale or failed source is left out: DeviceState cannot carry its error
        items.append({"Name": "Temperature", "Value": round(celsius, 2)})
    items.append({"Name": "TimeStamp", "Value": local_timestamp(snapshot.measured_at)})
    reply = Encoded(items)
    _LAST_STATE[id(served)] = (snapshot, celsius, reply)
    return reply


@functools.lru_cache(maxsize=16)  # many clients read the same snapshot between two polls
def local_timestamp(seconds: float) -> str:
    """Local unqualified ISO 8601 with milliseconds; a UTC "Z" form fails the official schema."""
    return datetime.datetime.fromtimestamp(seconds).isoformat(timespec="milliseconds")


COMMAND = (Param("Command", TEXT), Param("Raw", BOOL))

FOCUSER_MEMBERS: dict[str, dict[str, Operation]] = {
    # Members common to every device type.
    # Action decides itself which actions need the focuser (settings and info ones do not).
    "action": {"PUT": per_client(put(run_action, Param("Action", TEXT), Param("Parameters", TEXT, required=False, repeated=True), returns="", needs_connection=False))},
    "commandblind": {"PUT": put(not_implemented("does not take raw commands: use Action"), *COMMAND)},
    "commandbool": {"PUT": put(not_implemented("does not take raw commands: use Action"), *COMMAND, returns=False)},
    "commandstring": {"PUT": put(not_implemented("does not take raw commands: use Action"), *COMMAND, returns="")},
    "connect": {"PUT": per_client(put(lambda served, client: served.connection.request(True, client), needs_connection=False))},
    "connected": {
        "GET": per_client(Operation(lambda served, client: served.connection.connected(client), empty=False, needs_connection=False)),
        "PUT": per_client(
            put(lambda served, connected, client: served.connection.set_now(connected, client), Param("Connected", BOOL), needs_connection=False)
        ),
    },
    "connecting": {"GET": get(lambda served: served.connection.connecting, False, needs_connection=False)},
    "description": {"GET": get(lambda served: served.description[:DESCRIPTION_LIMIT], "", needs_connection=False)},
    "devicestate": {"GET": get(device_state, [])},
    "disconnect": {"PUT": per_client(put(lambda served, client: served.connection.request(False, client), needs_connection=False))},
    "driverinfo": {"GET": get(lambda served: DRIVER_INFO, "", needs_connection=False)},
    "driverversion": {"GET": get(lambda served: DRIVER_VERSION, "", needs_connection=False)},
    "interfaceversion": {"GET": get(lambda served: INTERFACE_VERSION, 0, needs_connection=False)},
    "name": {"GET": get(lambda served: served.name, "", needs_connection=False)},
    "supportedactions": {"GET": get(lambda served: actions.supported_actions(served.temperature is not None), [], needs_connection=False)},
    # IFocuserV4.
    "absolute": {"GET": get(lambda served: True, False)},
    "halt": {"PUT": put(lambda served: served.device.halt())},
    "ismoving": {"GET": reading(lambda state: state.moving, False, "IsMoving")},
    "maxincrement": {"GET": reading(lambda state: state.max_step, 0)},
    "maxstep": {"GET": reading(lambda state: state.max_step, 0)},
    "move": {"PUT": per_client(put(lambda served, position, client: served.device.move(position, client=client), Param("Position", INT32)))},
    "position": {"GET": reading(lambda state: state.position, 0, "Position")},
    "stepsize": {"GET": get(step_size, 0.0)},
    "tempcomp": {"GET": get(lambda served: served.temperature is not None and served.temperature.enabled, False), "PUT": put(set_temp_comp, Param("TempComp", BOOL))},
    "tempcompavailable": {"GET": get(lambda served: served.temperature is not None and served.temperature.available, False)},
    "temperature": {"GET": get(temperature, 0.0)},
}

STATE_OPERATIONS = tuple(
    operation for methods in FOCUSER_MEMBERS.values() for operation in methods.values() if operation.state_name
)

MEMBER_TABLES: dict[str, dict[str, dict[str, Operation]]] = {"focuser": FOCUSER_MEMBERS}
