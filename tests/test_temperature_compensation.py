"""The compensation arithmetic over a whole night: many small steps never drift from the line,
the threshold holds, targets stay in the focuser's range, one move is capped, and switching on
starts afresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpaca_focuser.config import ConfigError, ConfigFile
from alpaca_focuser.limits import POSITION_MAX
from alpaca_focuser.temperature.compensation import Anchor, Compensator, Step

MAX_STEP = 36500
UNCAPPED = POSITION_MAX


def follow(compensator: Compensator, temperatures: list[float], position: int) -> tuple[int, int]:
    """Feed temperatures as the service would, moving wherever told; returns (position, moves)."""
    moves = 0
    for celsius in temperatures:
        step = compensator.target(celsius, position, MAX_STEP)
        if step is not None:
            position, moves = step.target, moves + 1
            compensator.moved(celsius)
    return position, moves


def test_a_long_cooling_night_in_small_steps_stays_on_the_line() -> None:
    compensator = Compensator(steps_per_c=13.7, threshold_c=0.3, max_step=UNCAPPED, enabled=True)
    night = [18.0 - 0.01 * minute for minute in range(900)]  # 9 °C over 15 hours, a reading a minute
    position, moves = follow(compensator, night, 20000)
    last = compensator.reference_c
    assert last is not None and abs(night[-1] - last) <= 0.3  # behind by less than the threshold
    assert position == pytest.approx(20000 + 13.7 * (last - 18.0), abs=0.5)  # on the line at the last move
    assert moves == pytest.approx(9 / 0.31, abs=2)  # one move per threshold crossed, no more


def test_changes_within_the_threshold_never_move() -> None:
    compensator = Compensator(steps_per_c=50.0, threshold_c=0.5, max_step=UNCAPPED, enabled=True)
    jitter = [10.0, 10.3, 9.7, 10.5, 9.5, 10.2]
    assert follow(compensator, jitter, 20000) == (20000, 0)


def test_targets_stay_within_the_range() -> None:
    compensator = Compensator(steps_per_c=1000.0, threshold_c=0.5, max_step=UNCAPPED, enabled=True)
    position, _ = follow(compensator, [0.0, 30.0], MAX_STEP - 100)
    assert position == MAX_STEP
    position, _ = follow(compensator, [-40.0], position)
    assert position == 0


def test_off_or_without_a_coefficient_nothing_moves() -> None:
    assert follow(Compensator(steps_per_c=50.0, threshold_c=0.5, max_step=UNCAPPED), [10.0, 20.0], 20000) == (20000, 0)
    assert follow(Compensator(steps_per_c=None, threshold_c=0.5, max_step=UNCAPPED, enabled=True), [10.0, 20.0], 20000) == (20000, 0)


def test_switching_on_again_starts_from_the_focus_then() -> None:
    compensator = Compensator(steps_per_c=50.0, threshold_c=0.5, max_step=UNCAPPED, enabled=True)
    follow(compensator, [10.0], 20000)
    assert compensator.anchor == Anchor(10.0, 20000)
    compensator.switch(False)
    compensator.switch(True)
    position, _ = follow(compensator, [12.0, 13.0], 25000)
    assert position == 25000 + 50


def test_one_move_is_capped_and_the_next_waits_for_the_threshold() -> None:
    compensator = Compensator(steps_per_c=100.0, threshold_c=0.5, max_step=200, enabled=True)
    follow(compensator, [10.0], 20000)
    assert compensator.target(70.0, 20000, MAX_STEP) == Step(20200, 26000)  # a sensor that reads 70 °C from now on
    compensator.moved(70.0)
    assert compensator.target(70.0, 20200, MAX_STEP) is None  # it goes no further while the reading stays
    step = compensator.target(10.0, 20200, MAX_STEP)
    assert step == Step(20000, 20000) and not step.capped  # back on the line within the cap


def test_the_cap_limits_moves_both_ways() -> None:
    compensator = Compensator(steps_per_c=100.0, threshold_c=0.5, max_step=50, enabled=True)
    follow(compensator, [10.0], 20000)
    step = compensator.target(7.0, 20000, MAX_STEP)
    assert step is not None and step.target == 19950 and step.capped


def test_the_cap_is_read_from_the_configuration_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[focuser]]\nport = "sim://"\ntempcomp_max_step = 75\n')
    assert ConfigFile.load(path).settings.focusers[0].tempcomp_max_step == 75
    path.write_text('[[focuser]]\nport = "sim://"\n')
    assert ConfigFile.load(path).settings.focusers[0].tempcomp_max_step == 200
    path.write_text('[[focuser]]\nport = "sim://"\ntempcomp_max_step = 0\n')
    with pytest.raises(ConfigError, match="tempcomp_max_step.*a whole number from 1 to 16777215") as caught:
        ConfigFile.load(path)
    assert caught.value.line == 3
