"""6. Wire traffic: AUX frames and bytes per second on the focuser's serial line, idle and moving.

Measured with the device model itself (the code the server runs for each focuser) on a real pty
at real speed, from its link's traffic counters. Idle traffic matters because the motor shares
the mount's AUX bus and frequent polling is reported to disturb Celestron motor controllers;
INDI's driver sends 2 requests per second while idle.

Then Position while moving, as clients read it: a 3 s move on a motor answering in 2 ms (as a real
one does), its Position read every 2 ms from the snapshot GET Position returns; the figure is the
longest it stayed unchanged, with the frames per second the move put on the line beside it.
"""

from __future__ import annotations

import dataclasses
import time

from alpaca_focuser.celestron.link import LinkStats
from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.settings import FocuserSettings

from .move_latency import REPLY_DELAY_S
from .report import Outcome, Row
from .rig import BenchmarkError, LiveMove, pty_focuser, wait_until, watch_move

IDLE_S = 10.0
MOVING_S = 5.0
TARGET_IDLE_FRAMES = 1.5
INDI_IDLE_REQUESTS = 2.0
EARLIER_MOVING_FRAMES = 192.0  # polling slew-done and Position every 20 ms for the whole move
LIVE_MOVE_STEPS = 900  # 3 s at 300 counts/s
TARGET_LIVE_GAP_MS = 150.0
EARLIER_LIVE_GAP = "about 500 ms, in jumps of about 150 steps"


def _frames(focuser: CelestronFocuser) -> int:
    stats = focuser.link_stats
    return 0 if stats is None else stats.frames_sent + stats.frames_received


def live_move() -> LiveMove:
    """A 3 s move on the focuser's own line, watched as a client watches Position."""
    with pty_focuser(REPLY_DELAY_S) as (_motor, path):
        focuser = CelestronFocuser(FocuserSettings(name="bench", port=path))
        try:
            focuser.connect()
            time.sleep(0.5)
            position = focuser.state.position
            target = position + LIVE_MOVE_STEPS if position + LIVE_MOVE_STEPS <= focuser.state.max_step else position - LIVE_MOVE_STEPS
            return watch_move(focuser, target, lambda: _frames(focuser))
        finally:
            focuser.close()


def _rates(before: LinkStats, after: LinkStats, seconds: float) -> dict[str, float]:
    return {
        "requests_per_s": round((after.requests - before.requests) / seconds, 2),
        "frames_sent_per_s": round((after.frames_sent - before.frames_sent) / seconds, 2),
        "frames_received_per_s": round((after.frames_received - before.frames_received) / seconds, 2),
        "bytes_per_s": round((after.bytes_sent - before.bytes_sent + after.bytes_received - before.bytes_received) / seconds, 1),
    }


def _window(focuser: CelestronFocuser, seconds: float) -> dict[str, float]:
    before = focuser.link_stats
    started = time.monotonic()
    time.sleep(seconds)
    after = focuser.link_stats
    if before is None or after is None:
        raise BenchmarkError("the focuser lost its link during the wire-traffic measurement")
    return _rates(before, after, time.monotonic() - started)


def run(_: dict) -> Outcome:
    with pty_focuser() as (motor, path):
        focuser = CelestronFocuser(FocuserSettings(name="bench", port=path))
        try:
            focuser.connect()
            time.sleep(1.5)  # let the first poll after connecting pass, so the window sees steady state
            idle = _window(focuser, IDLE_S)
            focuser.move(focuser.state.position + 3000 if focuser.state.position + 3000 <= focuser.state.max_step else 0)
            wait_until(lambda: motor.moving, 5, "the motor to start")
            moving = _window(focuser, MOVING_S)
            if not motor.moving:
                raise BenchmarkError("the move ended before the moving window closed; make it longer")
            focuser.halt()
        finally:
            focuser.close()
    live = live_move()
    outcome = Outcome(details={"idle": idle, "moving": moving, "poll_settings_ms": dataclasses.asdict(FocuserSettings()),
                               "live_move": dataclasses.asdict(live) | {"frames_per_s": round(live.frames_per_s, 1)}})
    frames_idle = idle["frames_sent_per_s"] + idle["frames_received_per_s"]
    outcome.rows.append(Row("6", "AUX traffic idle: requests/s, frames/s both ways, bytes/s",
                            f"{idle['requests_per_s']:g} req/s, {frames_idle:g} frames/s, {idle['bytes_per_s']:g} B/s",
                            f"<= {TARGET_IDLE_FRAMES:g} frames/s both ways", frames_idle <= TARGET_IDLE_FRAMES,
                            f"INDI: {INDI_IDLE_REQUESTS:g} requests/s ({2 * INDI_IDLE_REQUESTS:g} frames/s)"))
    frames_moving = moving["frames_sent_per_s"] + moving["frames_received_per_s"]
    outcome.rows.append(Row("6", "AUX traffic moving: requests/s, frames/s both ways, bytes/s",
                            f"{moving['requests_per_s']:g} req/s, {frames_moving:g} frames/s, {moving['bytes_per_s']:g} B/s",
                            f"< {EARLIER_MOVING_FRAMES:g} frames/s", frames_moving < EARLIER_MOVING_FRAMES,
                            f"INDI polls every 500 ms; {EARLIER_MOVING_FRAMES:g} frames/s when every poll read slew-done"))
    gap_ms = live.largest_gap_s * 1000
    outcome.rows.append(Row("6", "Position while moving, focuser's own USB line: the longest it stood still in a 3 s move",
                            f"{gap_ms:.0f} ms; {live.frames_per_s:.1f} frames/s both ways during the move",
                            f"<= {TARGET_LIVE_GAP_MS:g} ms", gap_ms <= TARGET_LIVE_GAP_MS,
                            f"before: {EARLIER_LIVE_GAP}"))
    outcome.details["poll_settings_ms"] = {k: v for k, v in outcome.details["poll_settings_ms"].items() if k.startswith("poll_")}
    return outcome
