"""Temperature sources: the setting that names one, and reading an Alpaca weather device over real
HTTP, a (fake) Linux 1-wire folder and a file, with the errors a user would meet."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest
from conftest import free_port
from temperature_support import OTHER_SENSOR, SENSOR, w1_folder, weather_station, write_temperature, write_w1

from alpaca_focuser.config import ConfigError, ConfigFile
from alpaca_focuser.config.temperature_spec import parse_spec
from alpaca_focuser.temperature import inputs
from alpaca_focuser.temperature.inputs import FILE_READ_LIMIT, SourceError
from alpaca_focuser.temperature.sources import AlpacaSource, FileSource, Reading, W1Source, open_source


@pytest.mark.parametrize(
    "text, kind",
    [
        ("alpaca://192.168.1.20:11111/observingconditions/0", "alpaca"),
        ("alpaca://[::1]:4567/observingconditions/2", "alpaca"),
        ("w1", "w1"),
        (f"w1:{SENSOR}", "w1"),
        ("file:/run/sky-temperature", "file"),
    ],
)
def test_good_settings_are_understood(text: str, kind: str) -> None:
    assert parse_spec(text).kind == kind


@pytest.mark.parametrize(
    "text, says",
    [
        ("alpaca://host/observingconditions/0", "HOST:PORT"),
        ("alpaca://host:11111/telescope/0", "observingconditions/N"),
        ("w1:28-xyz", "12 hex digits"),
        ("file:", "path of the file"),
        ("thermometer", "file:/PATH"),
    ],
)
def test_bad_settings_say_what_is_expected(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("/", ".")):
        parse_spec(text)


def test_a_bad_temperature_setting_stops_the_start_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[server]\nname = "x"\n\n[[focuser]]\nport = "sim://"\ntemperature = "thermometer"\n')
    with pytest.raises(ConfigError) as caught:
        ConfigFile.load(path)
    assert caught.value.line == 6
    assert "w1:28-XXXXXXXXXXXX" in str(caught.value)


def test_a_file_gives_its_number_and_when_it_was_written(tmp_path: Path) -> None:
    path = tmp_path / "temperature"
    write_temperature(path, 7.25, age_s=30)
    reading = FileSource("file:" + str(path), path).read()
    assert reading.celsius == 7.25
    assert time.time() - reading.measured_at == pytest.approx(30, abs=2)


@pytest.mark.parametrize(
    "content, says",
    [(None, "does not exist"), ("warm", "not a number"), ("250", "no air temperature"), ("", "is empty"), (" \n\n", "is empty")],
)
def test_a_bad_file_says_why(tmp_path: Path, content: str | None, says: str) -> None:
    path = tmp_path / "temperature"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SourceError, match=says):
        FileSource("file", path).read()


@pytest.mark.parametrize("content", ["1_1", "\u0661\u0661", "\uff11\uff11", "nan", "inf", "-infinity", "1e1", "0x10", "12,5", ".5", "12.", "1 2", "12.5 °C"])
def test_only_plain_decimals_are_temperatures(tmp_path: Path, content: str) -> None:
    path = tmp_path / "temperature"
    path.write_text(content + "\n", encoding="utf-8")
    with pytest.raises(SourceError, match="not a number of degrees Celsius written plainly"):
        FileSource("file", path).read()


@pytest.mark.parametrize("content, celsius", [("+3", 3.0), ("-3.5\r\n", -3.5), ("  7 \n\n", 7.0), ("012.250", 12.25)])
def test_plain_decimals_are_read(tmp_path: Path, content: str, celsius: float) -> None:
    path = tmp_path / "temperature"
    path.write_text(content)
    assert FileSource("file", path).read().celsius == celsius


def test_a_file_that_is_appended_to_gives_its_last_line(tmp_path: Path) -> None:
    path = tmp_path / "temperature"
    path.write_text("".join(f"{10 + n / 1000:.3f}\n" for n in range(3000)))  # what `echo $T >> file` leaves
    assert path.stat().st_size > 4 * FILE_READ_LIMIT
    assert FileSource("file", path).read().celsius == 12.999


def test_a_last_line_longer_than_the_read_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "temperature"
    path.write_text("12.5\n" + "9" * (FILE_READ_LIMIT + 10) + "\n")
    with pytest.raises(SourceError, match=f"ends in a line longer than {FILE_READ_LIMIT} bytes"):
        FileSource("file", path).read()


def read_in_thread(source: FileSource) -> Reading | BaseException | None:
    """What ``read`` returned or raised, or None when it was still blocked after 10 s."""
    outcome: list[Reading | BaseException] = []

    def run() -> None:
        try:
            outcome.append(source.read())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    return outcome[0] if outcome else None


def release(fifo: Path) -> None:
    """Give a reader blocked on opening ``fifo`` a writer, so a failing test leaves no thread hanging."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_before_it_is_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    real_open = os.open

    def spy(path: str, *args: int, **options: int) -> int:
        opened.append(path)
        return real_open(path, *args, **options)

    monkeypatch.setattr(os, "open", spy)
    with pytest.raises(SourceError, match="/dev/zero is a character device"):
        FileSource("file", Path("/dev/zero")).read()
    assert opened == [], "opening a device can act on it (a serial port resets the board behind it)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_swapped_in_after_the_check_is_opened_without_blocking_and_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "temperature"
    os.mkfifo(fifo)
    checks = []
    real_check = inputs._refuse_unless_regular

    def swapped(mode: int, what: str) -> None:
        checks.append(mode)
        if len(checks) > 1:  # the first check saw the regular file that was there a moment before
            real_check(mode, what)

    monkeypatch.setattr(inputs, "_refuse_unless_regular", swapped)
    try:
        outcome = read_in_thread(FileSource("file", fifo))
    finally:
        release(fifo)
    assert outcome is not None, "opening the FIFO blocked the reader"
    assert isinstance(outcome, SourceError) and "is a FIFO (named pipe)" in str(outcome)


@pytest.mark.parametrize("content", ["t=1_000", "t=\u0661\u0662\u0663\u0664\u0665"])
def test_a_w1_reading_in_another_syntax_is_refused(tmp_path: Path, content: str) -> None:
    root = w1_folder(tmp_path / "w1", SENSOR)
    (root / SENSOR / "w1_slave").write_text(f"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 {content}\n", encoding="utf-8")
    with pytest.raises(SourceError, match="not a whole number"):
        W1Source("w1", "", root).read()


def test_plain_w1_reads_the_only_sensor(tmp_path: Path) -> None:
    root = w1_folder(tmp_path / "w1", SENSOR)
    write_w1(root, SENSOR, -3125)
    assert W1Source("w1", "", root).read().celsius == -3.125


def test_a_named_w1_sensor_is_read_among_several(tmp_path: Path) -> None:
    root = w1_folder(tmp_path / "w1", SENSOR, OTHER_SENSOR)
    write_w1(root, OTHER_SENSOR, 15500)
    source = open_source(parse_spec(f"w1:{OTHER_SENSOR}"), w1_root=root)
    assert source.read().celsius == 15.5


def test_plain_w1_with_several_sensors_asks_which(tmp_path: Path) -> None:
    root = w1_folder(tmp_path / "w1", SENSOR, OTHER_SENSOR)
    with pytest.raises(SourceError, match="several 1-wire sensors") as caught:
        W1Source("w1", "", root).read()
    assert SENSOR in str(caught.value) and OTHER_SENSOR in str(caught.value)


def test_no_w1_sensor_says_how_to_enable_one_wire(tmp_path: Path) -> None:
    root = w1_folder(tmp_path / "w1")
    with pytest.raises(SourceError, match="dtoverlay=w1-gpio"):
        W1Source("w1", "", root).read()


def test_a_missing_named_sensor_lists_the_ones_there(tmp_path: Path) -> None:
    root = w1_folder(tmp_path / "w1", SENSOR)
    with pytest.raises(SourceError, match=f"not under .*{SENSOR}"):
        W1Source("w1", OTHER_SENSOR, root).read()


@pytest.mark.parametrize("millidegrees, crc_ok, says", [(20000, False, "checksum"), (85000, True, "power-on")])
def test_a_bad_w1_reading_is_refused(tmp_path: Path, millidegrees: int, crc_ok: bool, says: str) -> None:
    root = w1_folder(tmp_path / "w1", SENSOR)
    write_w1(root, SENSOR, millidegrees, crc_ok=crc_ok)
    with pytest.raises(SourceError, match=says):
        W1Source("w1", "", root).read()


def test_an_alpaca_station_is_connected_then_read() -> None:
    with weather_station(celsius=4.5) as (station, port):
        source = open_source(parse_spec(f"alpaca://127.0.0.1:{port}/observingconditions/0"))
        assert source.read().celsius == 4.5
        assert station.connected
        station.celsius = 5.0
        assert source.read().celsius == 5.0
    assert "PUT /api/v1/observingconditions/0/connected" in station.requests


def test_an_alpaca_station_error_is_passed_on() -> None:
    with weather_station(connected=True, error=(0x500, "sensor cable unplugged")) as (_, port):
        source = AlpacaSource("station", "127.0.0.1", port, 0)
        with pytest.raises(SourceError, match="0x500 .sensor cable unplugged"):
            source.read()


def test_an_unreachable_station_says_so() -> None:
    source = AlpacaSource("station", "127.0.0.1", free_port(), 0, timeout=1.0)
    with pytest.raises(SourceError, match="cannot reach the weather device"):
        source.read()


def test_a_station_without_that_device_answers_http_400() -> None:
    with weather_station() as (_, port):
        source = AlpacaSource("station", "127.0.0.1", port, 3)
        with pytest.raises(SourceError, match="HTTP 400"):
            source.read()


def test_a_redirect_to_another_port_is_refused_not_followed() -> None:
    with weather_station(connected=True) as (elsewhere, other_port):
        with weather_station(redirect=f"http://127.0.0.1:{other_port}/api/v1/observingconditions/0/temperature") as (_, port):
            with pytest.raises(SourceError, match=rf"answered with a redirect \(HTTP 302\) to http://127.0.0.1:{other_port}/.*redirects are not followed"):
                AlpacaSource("station", "127.0.0.1", port, 0).read()
    assert elsewhere.requests == []


NESTED = b'{"ErrorNumber": 0, "Value": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize(
    "body, says",
    [
        (NESTED, "JSON nested deeper than any Alpaca reply"),
        (b" " * 20_000 + b"{}", "more than 16 KiB"),
        (b'{"ErrorNumber": 0, "Value": NaN}', "no air temperature"),
        (b'{"ErrorNumber": 0, "Value": "12.5"}', "not a number of degrees"),
        (b'{"ErrorNumber": 1280, "ErrorMessage": "line one\\nline two' + b"x" * 5000 + b'"}', r"error 0x500 \(line one\?line twox+\.\.\.\)$"),
    ],
)
def test_a_strange_reply_is_refused_in_one_line(body: bytes, says: str) -> None:
    with weather_station(body=body) as (_, port):
        with pytest.raises(SourceError, match=says) as caught:
            AlpacaSource("station", "127.0.0.1", port, 0).read()
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


def test_a_reply_trickling_in_is_given_up_after_the_timeout() -> None:
    with weather_station(body=b'{"ErrorNumber": 0, "Value": 12.5}' + b" " * 200, trickle_s=0.05) as (_, port):
        with pytest.raises(SourceError, match="took more than 0.5 s to answer"):
            AlpacaSource("station", "127.0.0.1", port, 0, timeout=0.5).read()


def test_brackets_inside_strings_are_not_nesting() -> None:
    body = b'{"ErrorNumber": 0, "ErrorMessage": "[[[[[[{{{{{{\\"[[[[", "Value": 3.5}'
    with weather_station(body=body) as (_, port):
        assert AlpacaSource("station", "127.0.0.1", port, 0).read().celsius == 3.5
