"""The background reader: temperatures scripted over time on a test clock (averaging, staleness, a
source that fails and one that comes back), and once on a real file with the reader's thread."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import wait_for
from temperature_support import write_temperature

from alpaca_focuser.temperature.reader import TemperatureReader
from alpaca_focuser.temperature.sources import FileSource, Reading, SourceError


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class ScriptedSource:
    """Answers what the test put in ``next``: a temperature measured now, a Reading, or an error."""

    description = "scripted"

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.next: float | Reading | Exception = 0.0

    def read(self) -> Reading:
        if isinstance(self.next, Exception):
            raise self.next
        if isinstance(self.next, Reading):
            return self.next
        return Reading(self.next, self.clock())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def source(clock: Clock) -> ScriptedSource:
    return ScriptedSource(clock)


def feed(reader: TemperatureReader, source: ScriptedSource, clock: Clock, values: list[float], every_s: float) -> None:
    for value in values:
        source.next = value
        reader.poll_once()
        clock.now += every_s


def test_readings_are_averaged_over_the_window(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=10, stale_s=60, clock=clock)
    feed(reader, source, clock, [10.0, 10.4, 9.6, 10.2, 9.8], every_s=1)
    health = reader.health()
    assert health.ok and health.samples == 5
    assert health.celsius == pytest.approx(10.0)
    assert health.last_celsius == 9.8


@pytest.mark.parametrize("average_s", [60.0, 0.0])
def test_one_outlier_is_set_aside_before_averaging(clock: Clock, source: ScriptedSource, average_s: float) -> None:
    reader = TemperatureReader(source, average_s=average_s, stale_s=120, clock=clock)
    feed(reader, source, clock, [10.0, 10.1, 9.9, 10.0, 10.1, 9.9, 10.0, 70.0], every_s=5)
    clock.now -= 5
    health = reader.health()
    assert health.celsius == pytest.approx(10.0)  # unscreened: 17.5 with averaging, 70 without
    assert health.last_celsius == 70.0 and health.newest_set_aside
    assert "the newest reading, 70 °C, is set aside" in health.message
    clock.now += 5
    feed(reader, source, clock, [10.0], every_s=0)
    health = reader.health()
    assert health.celsius == pytest.approx(10.0) and not health.newest_set_aside
    assert health.set_aside == (1 if average_s else 0)


def test_an_outlier_is_logged_once_however_often_it_is_read_again(clock: Clock, source: ScriptedSource, caplog: pytest.LogCaptureFixture) -> None:
    reader = TemperatureReader(source, average_s=0, stale_s=120, clock=clock)
    feed(reader, source, clock, [10.0, 10.0, 10.0], every_s=5)
    source.next = Reading(70.0, clock.now)  # a file nobody rewrites after the glitch
    with caplog.at_level(logging.INFO, logger="alpaca_focuser.temperature"):
        for _ in range(10):
            reader.poll_once()
            clock.now += 1
    assert [record.getMessage() for record in caplog.records] == [
        "Temperature from scripted: a reading of 70 °C is set aside, far from the readings around it (the temperature stays 10.00 °C)"
    ]


def test_a_jump_counts_once_it_has_lasted(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=0, stale_s=120, clock=clock)
    feed(reader, source, clock, [10.0, 10.0, 10.0, 13.0, 13.0], every_s=5)
    assert reader.health().celsius == 10.0
    feed(reader, source, clock, [13.0], every_s=5)
    assert reader.health().celsius == 13.0


def test_of_two_readings_that_disagree_the_first_stands_until_a_third_decides(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=0, stale_s=120, clock=clock)
    feed(reader, source, clock, [10.0, 70.0], every_s=5)
    assert reader.health().celsius == 10.0
    feed(reader, source, clock, [10.2], every_s=5)
    assert reader.health().celsius == 10.2


def test_a_ramp_and_sensor_noise_are_never_set_aside(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=60, stale_s=120, clock=clock)
    rng = random.Random(5)
    for index in range(120):  # a steep fall, 0.05 °C a reading (36 °C an hour), with 0.2 °C of noise
        feed(reader, source, clock, [round(15.0 - 0.05 * index + rng.gauss(0, 0.2), 2)], every_s=5)
        assert reader.health().set_aside == 0


def test_after_an_outage_the_first_reading_is_screened_against_the_last_ones(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=0, stale_s=30, clock=clock)
    feed(reader, source, clock, [10.0, 10.0, 10.0], every_s=5)
    clock.now += 600
    feed(reader, source, clock, [70.0], every_s=0)
    health = reader.health()
    assert health.ok and health.celsius == 10.0 and health.newest_set_aside


def test_old_readings_leave_the_average(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=2.5, stale_s=60, clock=clock)
    feed(reader, source, clock, [0.0, 0.0, 0.0, 20.0, 20.0, 20.0], every_s=1)
    clock.now -= 1  # read at the time of the last reading
    assert reader.health().celsius == pytest.approx(20.0)


def test_a_source_that_answers_nothing_new_goes_stale_and_says_since_when(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=0, stale_s=30, clock=clock)
    source.next = Reading(8.0, clock.now)  # a file nobody rewrites any more
    reader.poll_once()
    clock.now += 29
    reader.poll_once()
    assert reader.health().celsius == 8.0
    clock.now += 2
    reader.poll_once()
    health = reader.health()
    assert health.status == "stale" and health.celsius is None
    assert health.since == 1_000_000.0
    assert "no new reading from scripted since" in health.message and "31 s ago" in health.message


def test_a_reading_dated_in_the_future_has_no_known_age_and_is_stale(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=0, stale_s=30, clock=clock)
    feed(reader, source, clock, [8.0], every_s=1)
    source.next = Reading(9.0, clock.now + 3600)  # a file written by a computer whose clock is an hour ahead
    for _ in range(40):
        reader.poll_once()
        clock.now += 1
    health = reader.health()
    assert health.status == "stale" and health.celsius is None and health.last_celsius == 8.0
    assert "ahead of this computer's clock, so its age is unknown" in health.message
    source.next = Reading(9.0, clock.now + 1)  # a second ahead is only the clocks' rounding
    reader.poll_once()
    assert reader.health().celsius == 9.0


def test_a_failing_source_keeps_the_last_temperature_until_the_staleness_limit(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=0, stale_s=30, clock=clock)
    feed(reader, source, clock, [11.0], every_s=10)
    source.next = SourceError("cannot reach the weather device")
    reader.poll_once()
    health = reader.health()
    assert health.ok and health.celsius == 11.0  # one blip does not break a client's autofocus trigger
    assert health.last_error == "cannot reach the weather device"
    clock.now += 25
    reader.poll_once()
    health = reader.health()
    assert health.status == "failed" and health.celsius is None
    assert health.message.startswith("cannot reach the weather device (no temperature since")
    assert health.failures == 2


def test_a_source_that_comes_back_is_used_again(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=5, stale_s=10, clock=clock)
    feed(reader, source, clock, [5.0], every_s=1)
    source.next = SourceError("sensor unplugged")
    for _ in range(15):
        reader.poll_once()
        clock.now += 1
    assert reader.health().status == "failed"
    feed(reader, source, clock, [6.0], every_s=0)
    health = reader.health()
    assert health.ok and health.celsius == 6.0 and health.last_error == ""


def test_a_source_failing_from_the_start_says_why_at_once(clock: Clock, source: ScriptedSource) -> None:
    reader = TemperatureReader(source, average_s=5, stale_s=60, clock=clock)
    assert reader.health().status == "starting"
    source.next = SourceError("no 1-wire temperature sensor")
    reader.poll_once()
    assert reader.health().status == "failed"
    assert "no 1-wire temperature sensor" in reader.health().message


def test_a_failure_is_logged_once_when_it_begins_not_at_every_read(clock: Clock, source: ScriptedSource, caplog: pytest.LogCaptureFixture) -> None:
    reader = TemperatureReader(source, average_s=0, stale_s=30, clock=clock)
    with caplog.at_level(logging.INFO, logger="alpaca_focuser.temperature"):
        feed(reader, source, clock, [11.0], every_s=1)
        source.next = SourceError("cannot reach the weather device")
        for _ in range(10):
            reader.poll_once()
            clock.now += 1
        assert reader.health().ok  # the last reading still serves
        failures = [record.getMessage() for record in caplog.records if "cannot reach" in record.getMessage()]
        assert failures == ["Reading the temperature from scripted failed: cannot reach the weather device (the last reading stays in use until it is 30 s old)"]
        feed(reader, source, clock, [11.5], every_s=1)
        source.next = SourceError("cannot reach the weather device")
        reader.poll_once()
    assert len([record for record in caplog.records if "cannot reach" in record.getMessage()]) == 2, "a new failure after a good reading is logged again"


def test_an_unexpected_failure_logs_one_traceback_not_one_every_read(clock: Clock, source: ScriptedSource, caplog: pytest.LogCaptureFixture) -> None:
    reader = TemperatureReader(source, average_s=0, stale_s=30, clock=clock)
    source.next = RecursionError("maximum recursion depth exceeded")
    with caplog.at_level(logging.INFO, logger="alpaca_focuser.temperature"):
        for _ in range(10):
            reader.poll_once()
            clock.now += 1
    assert len([record for record in caplog.records if record.exc_info]) == 1
    health = reader.health()
    assert health.status == "failed" and "unexpected failure reading it: maximum recursion depth" in health.message


def test_the_reader_thread_follows_a_file_and_notices_when_it_is_no_longer_written(tmp_path: Path) -> None:
    path = tmp_path / "temperature"
    write_temperature(path, 12.5)
    reader = TemperatureReader(FileSource("file:" + str(path), path), average_s=0, stale_s=5, poll_s=0.02)
    reader.start()
    try:
        wait_for(lambda: reader.health().celsius == 12.5, what="the first reading")
        write_temperature(path, 13.0)
        wait_for(lambda: reader.health().celsius == 13.0, what="the new reading")
        write_temperature(path, 14.0, age_s=60)  # the script died a minute ago, after writing this
        health = wait_for(lambda: (h := reader.health()).status == "stale" and h, what="staleness")
        assert "temperature_stale_s" in health.message
    finally:
        reader.close()
