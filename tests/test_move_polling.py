"""How a move polls the motor, on the fake clock and the in-memory motor: a GOTO ends on the
motor's own slew-done and one position read after it; on the focuser's own USB line Position is
read often enough to show the move live; on a mount's shared bus the polling stays sparse."""

from __future__ import annotations

import pytest
from device_support import Bench, FakeClock, make_bench

from alpaca_focuser.celestron.commands import Command
from alpaca_focuser.simulator import FocusMotor

THREE_SECONDS = 900  # counts at GOTO_FAST's 300 counts/s
LIVE_GAP_S = 0.15  # Position during a move on the focuser's own line is never older than this


def published_positions(bench: Bench, target: int) -> list[tuple[float, int]]:
    """Run a move to ``target``; every position clients could read during it, with its fake time."""
    seen: list[tuple[float, int]] = []

    def ended() -> bool:
        state = bench.focuser.state
        seen.append((bench.clock.now, state.position))
        return not state.moving

    bench.focuser.move(target)
    bench.run_until(ended, 60, "the end of the move")
    return seen


def largest_gap_between_changes(seen: list[tuple[float, int]]) -> float:
    changes = [at for (at, position), (_, before) in zip(seen[1:], seen) if position != before]
    return max(later - earlier for earlier, later in zip(changes, changes[1:]))


@pytest.mark.parametrize(
    ("steps", "settings", "motor"),
    [
        (37, {}, {}),
        (300, {}, {}),
        (-650, {}, {}),
        (1234, {}, {}),
        (-400, {"backlash_steps": 150, "backlash_direction": "out"}, {}),  # overshoot, then the final approach
        (500, {}, {"landing_error": 4, "seed": 3}),  # lands off target, then slow corrections
    ],
)
def test_a_goto_ends_on_slew_done_and_one_position_read_after_it(steps, settings, motor):
    clock = FakeClock()
    bench = make_bench(motor=FocusMotor(clock=clock.monotonic, **motor), clock=clock, **settings)
    focuser = bench.focuser
    target = focuser.state.position + steps
    focuser.move(target)
    bench.settle()
    assert focuser.state.position == target
    stop = bench.motor.stops[-1]
    assert stop.reason == "arrived"
    assert bench.commands_from(stop.time) == [Command.SLEW_DONE, Command.GET_POSITION], (
        "after the motor stops, the first slew-done says so and one position read ends the move"
    )


def test_position_is_live_during_a_move_on_the_focusers_own_line():
    bench = make_bench(route="usb")
    seen = published_positions(bench, bench.focuser.state.position + THREE_SECONDS)
    assert largest_gap_between_changes(seen) <= LIVE_GAP_S


@pytest.mark.parametrize("route", ["mount", "hc"])
def test_a_shared_bus_keeps_its_sparse_polling_during_a_move(route):
    own = make_bench(route="usb")
    shared = make_bench(route=route)
    own_start, shared_start = len(own.sent), len(shared.sent)
    own_seen = published_positions(own, own.focuser.state.position + THREE_SECONDS)
    shared_seen = published_positions(shared, shared.focuser.state.position + THREE_SECONDS)
    assert largest_gap_between_changes(shared_seen) > 2 * LIVE_GAP_S, "cruising, Position is read at most every 0.5 s"
    assert largest_gap_between_changes(own_seen) <= LIVE_GAP_S
    own_reads = own.sent_commands(own_start).count(Command.GET_POSITION)
    shared_reads = shared.sent_commands(shared_start).count(Command.GET_POSITION)
    assert 2 * shared_reads < own_reads, "the shared bus must carry far fewer position reads"


def test_a_motor_that_stalls_just_before_arriving_is_still_caught():
    """Closing in, only slew-done is read, but Position still now and then: a stall shows."""
    bench = make_bench()
    focuser = bench.focuser
    low = bench.motor.limits[0]
    target = focuser.state.position + 300
    focuser.move(target)
    bench.run_until(lambda: abs(bench.motor.position - low - target) <= 5, what="the motor to be about to arrive")
    bench.motor.set_fault("stall")
    bench.settle(30)
    assert "stalled" in focuser.state.last_error
    assert bench.motor.stops[-1].reason == "stopped"
