"""9. The frames the server adds to a mount's AUX bus, idle and during a move.

The focuser on a mount shares the AUX bus with the hand controller, the motor controllers, a GPS
and the WiFi module; very frequent polling is reported to disturb Celestron motor controllers.
Measured on the simulated mount at real speed, through its USB port, with the device model the
server runs and its default polling: every frame from the server (0x20) and every reply to it, as
the main board relays them. The bus runs at 19200 baud (1920 bytes/s); the share is of that.
Then a 3 s move watched as a client watches Position: on the shared bus Position is read
sparingly, unlike on the focuser's own line (benchmark 6).
"""

from __future__ import annotations

import tempfile
import time

from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.settings import FocuserSettings
from alpaca_focuser.simulator import FocusMotor
from alpaca_focuser.simulator.mount import SimulatedMount
from alpaca_focuser.simulator.mount_bus import HAND_CONTROLLER, MountBus

from .report import Outcome, Row
from .rig import BenchmarkError, wait_until, watch_move

IDLE_S = 10.0
MOVING_S = 5.0
SERVER = 0x20
BUS_BYTES_PER_S = 19200 / 10  # 8N1: ten bits a byte
TARGET_MOVING_FRAMES = 25.0  # both ways; at most ten exchanges a second, a few hundred bytes/s
TARGET_IDLE_FRAMES = 1.5
LIVE_MOVE_STEPS = 900  # 3 s at 300 counts/s
INDI_FRAMES = "INDI's focuser driver: 4 frames/s both ways (2 requests every 500 ms), idle or moving"


def _counts(bus: MountBus) -> tuple[int, int, int]:
    ours = bus.frames_by_source.get(SERVER, 0) + bus.frames_by_destination.get(SERVER, 0)
    ours_bytes = bus.bytes_by_source.get(SERVER, 0) + bus.bytes_by_destination.get(SERVER, 0)
    return ours, ours_bytes, bus.frames_by_source.get(HAND_CONTROLLER, 0)


def _window(bus: MountBus, seconds: float) -> dict[str, float]:
    before = _counts(bus)
    started = time.monotonic()
    time.sleep(seconds)
    after = _counts(bus)
    elapsed = time.monotonic() - started
    frames, size, chatter = (round((b - a) / elapsed, 2) for a, b in zip(before, after))
    return {"frames_per_s": frames, "bytes_per_s": size, "bus_share_pct": round(100 * size / BUS_BYTES_PER_S, 1), "hand_controller_frames_per_s": chatter}


def run(_: dict) -> Outcome:
    motor = FocusMotor(time_scale=1.0)
    with tempfile.TemporaryDirectory(prefix="bench-mount-") as folder, SimulatedMount(motor, folder) as mount:
        focuser = CelestronFocuser(FocuserSettings(name="bench", port=mount.usb_path, route="mount"))
        try:
            focuser.connect()
            time.sleep(2.0)  # past the reads of connecting: the window sees steady polling
            idle = _window(mount.bus, IDLE_S)
            position = focuser.state.position
            focuser.move(position + 3000 if position + 3000 <= focuser.state.max_step else 0)
            wait_until(lambda: motor.moving, 5, "the motor to start")
            moving = _window(mount.bus, MOVING_S)
            if not motor.moving:
                raise BenchmarkError("the move ended before the moving window closed; make it longer")
            focuser.halt()
            wait_until(lambda: not focuser.state.moving, 5, "the halt")
            position = focuser.state.position
            target = position - LIVE_MOVE_STEPS if position >= LIVE_MOVE_STEPS else position + LIVE_MOVE_STEPS
            live = watch_move(focuser, target, lambda: _counts(mount.bus)[0])
        finally:
            focuser.close()
    outcome = Outcome(details={"idle": idle, "moving": moving,
                               "live_move": {"seconds": round(live.seconds, 2), "largest_gap_s": round(live.largest_gap_s, 3),
                                             "frames": live.frames, "frames_per_s": round(live.frames_per_s, 1)}})
    outcome.rows.append(Row("9", "frames the server adds to a mount's AUX bus, idle",
                            f"{idle['frames_per_s']:g} frames/s, {idle['bytes_per_s']:g} B/s ({idle['bus_share_pct']:g}% of the bus)",
                            f"<= {TARGET_IDLE_FRAMES:g} frames/s", idle["frames_per_s"] <= TARGET_IDLE_FRAMES, INDI_FRAMES))
    outcome.rows.append(Row("9", "frames the server adds to a mount's AUX bus, moving",
                            f"{moving['frames_per_s']:g} frames/s, {moving['bytes_per_s']:g} B/s ({moving['bus_share_pct']:g}% of the bus)",
                            f"<= {TARGET_MOVING_FRAMES:g} frames/s", moving["frames_per_s"] <= TARGET_MOVING_FRAMES,
                            f"the simulated hand controller polls {moving['hand_controller_frames_per_s']:g} frames/s"))
    outcome.rows.append(Row("9", "Position while moving, mount's AUX bus: the longest it stood still in a 3 s move",
                            f"{live.largest_gap_s * 1000:.0f} ms; {live.frames_per_s:.1f} frames/s both ways during the move",
                            f"<= {TARGET_MOVING_FRAMES:g} frames/s", live.frames_per_s <= TARGET_MOVING_FRAMES,
                            "the pacing of a shared bus is kept: Position read at most every 0.5 s while cruising"))
    outcome.notes.append("Safe on a shared bus: the mount link paces itself to at most ten exchanges a second (one request and "
                         "one reply each, a few percent of a 19200-baud bus) whatever the polling asks for, and idles at one "
                         "position read every 1.5 s; the hand controller's own polling of the motor controllers is heavier.")
    return outcome
