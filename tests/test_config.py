"""The configuration file: loading, validation errors that point at the line, and safe saving."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
from pathlib import Path

import pytest
from conftest import IN_CI, require_tool

from alpaca_focuser.config import ConfigError, ConfigFile
from alpaca_focuser.settings import Direction, FocuserSettings, Preset, Settings

TEMPLATE = Path(__file__).resolve().parent.parent / "config.toml"


def write(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#") or " # " in line]


def changed(focuser: FocuserSettings, **values: object) -> FocuserSettings:
    return dataclasses.replace(focuser, **values)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    shutil.copyfile(TEMPLATE, path)
    return path


def test_template_holds_the_defaults_and_runs_the_simulator(config_path: Path) -> None:
    loaded = ConfigFile.load(config_path).settings
    generated_id = loaded.focusers[0].unique_id
    assert generated_id
    expected = Settings()
    expected.focusers[0].unique_id = generated_id
    assert loaded == expected
    assert loaded.focusers[0].port == "sim://"


def test_run_time_settings_survive_a_save_and_a_reload(config_path: Path) -> None:
    config = ConfigFile.load(config_path)
    wanted = changed(
        config.settings.focusers[0],
        reverse=True,
        backlash_steps=120,
        backlash_direction=Direction.OUT,
        presets=[Preset(1, "Bahtinov", 12000), Preset(3, "Visual \"wide\"", 16777215)],
    )
    config.save_focuser(0, wanted)
    assert config.settings.focusers[0] == wanted
    assert ConfigFile.load(config_path).settings.focusers[0] == wanted


def test_saving_keeps_every_comment_and_the_untouched_lines(config_path: Path) -> None:
    before = config_path.read_text()
    config = ConfigFile.load(config_path)
    config.save_focuser(0, changed(config.settings.focusers[0], backlash_steps=40, presets=[Preset(1, "Near", 10)]))
    after = config_path.read_text()
    assert comments(after) == comments(before)
    touched = ("backlash_steps", "unique_id", "presets")
    kept = [line for line in before.splitlines() if not line.startswith(touched)]
    assert [line for line in after.splitlines() if line in kept] == kept


def test_presets_written_as_tables_stay_tables_with_their_comments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[focuser]]
        port = "sim://a"
        unique_id = "fixed"

        [[focuser.presets]]  # the one I use most
        slot = 1
        name = "Bahtinov"  # mask on
        position = 100

        [[focuser.presets]]
        slot = 2
        name = "Old"
        position = 200

        [[focuser]]
        port = "sim://b"
        unique_id = "other"
        """,
    )
    config = ConfigFile.load(path)
    config.save_focuser(0, changed(config.settings.focusers[0], presets=[Preset(1, "Bahtinov", 150), Preset(5, "New", 500)]))
    text = path.read_text()
    assert "[[focuser.presets]]  # the one I use most" in text
    assert 'name = "Bahtinov"  # mask on' in text
    assert "Old" not in text and "presets = [" not in text
    reloaded = ConfigFile.load(path).settings
    assert reloaded.focusers[0].presets == [Preset(1, "Bahtinov", 150), Preset(5, "New", 500)]
    assert reloaded.focusers[1].port == "sim://b" and reloaded.focusers[1].presets == []

    config.save_focuser(0, changed(config.settings.focusers[0], presets=[]))
    assert ConfigFile.load(path).settings.focusers[0].presets == []
    assert "focuser.presets" not in path.read_text()


def test_a_file_without_the_run_time_keys_gets_only_what_changed(tmp_path: Path) -> None:
    path = write(tmp_path, '[[focuser]]\nport = "sim://"\nunique_id = "u1"\n')
    config = ConfigFile.load(path)
    config.save_focuser(0, changed(config.settings.focusers[0], reverse=True, presets=[Preset(2, "Two", 20)]))
    text = path.read_text()
    assert "reverse = true" in text and "backlash" not in text
    assert ConfigFile.load(path).settings.focusers[0].presets == [Preset(2, "Two", 20)]


def test_edits_made_while_the_server_runs_survive_a_save(config_path: Path) -> None:
    config = ConfigFile.load(config_path)
    config_path.write_text(config_path.read_text().replace('location = "Observatory"', 'location = "Back garden"'))
    config.save_focuser(0, changed(config.settings.focusers[0], backlash_steps=7))
    reloaded = ConfigFile.load(config_path).settings
    assert reloaded.server.location == "Back garden"
    assert reloaded.focusers[0].backlash_steps == 7


def test_unique_ids_are_generated_once_and_stay(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[focuser]]
        port = "sim://one"

        [[focuser]]
        port = "sim://two"
        unique_id = ""

        [[focuser]]
        port = "sim://three"
        unique_id = "my-own-id"
        """,
    )
    first = [focuser.unique_id for focuser in ConfigFile.load(path).settings.focusers]
    assert first[0] and first[1] and first[0] != first[1]
    assert first[2] == "my-own-id"
    text_after_first_load = path.read_text()
    assert first[0] in text_after_first_load and first[1] in text_after_first_load
    second = [focuser.unique_id for focuser in ConfigFile.load(path).settings.focusers]
    assert second == first
    assert path.read_text() == text_after_first_load


def test_a_unique_id_that_cannot_be_saved_is_reported_and_the_server_carries_on(config_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    before = config_path.read_bytes()
    config_path.chmod(0o444)
    with caplog.at_level(logging.WARNING, logger="alpaca_focuser.config"):
        config = ConfigFile.load(config_path)
    assert config.settings.focusers[0].unique_id
    assert config_path.read_bytes() == before
    assert any("will change at the next start" in record.getMessage() and "read-only" in record.getMessage() for record in caplog.records)


def test_a_read_only_file_refuses_the_save_and_stays_unchanged(config_path: Path) -> None:
    config = ConfigFile.load(config_path)
    original = config.settings.focusers[0]
    config_path.chmod(0o444)
    before = config_path.read_bytes()
    with pytest.raises(ConfigError) as error:
        config.save_focuser(0, changed(original, backlash_steps=99))
    assert str(config_path) in str(error.value) and "read-only" in str(error.value) and "chmod" in str(error.value)
    assert config_path.read_bytes() == before
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o444
    assert config.settings.focusers[0].backlash_steps == original.backlash_steps
    assert [p.name for p in config_path.parent.iterdir()] == ["config.toml"]


def test_a_value_the_next_load_would_refuse_is_not_saved(config_path: Path) -> None:
    config = ConfigFile.load(config_path)
    before = config_path.read_bytes()
    bad = [
        changed(config.settings.focusers[0], backlash_steps=70000),
        changed(config.settings.focusers[0], presets=[Preset(1, "A", 1), Preset(1, "B", 2)]),
        changed(config.settings.focusers[0], presets=[Preset(0, "zero", 1)]),
        changed(config.settings.focusers[0], presets=[Preset(1, " ", 1)]),
    ]
    for focuser in bad:
        with pytest.raises(ConfigError, match="not saving focuser 1"):
            config.save_focuser(0, focuser)
    assert config_path.read_bytes() == before


NAMESPACED_SAVE = """
import os, subprocess, sys
from pathlib import Path
from alpaca_focuser.config import ConfigError, ConfigFile
from alpaca_focuser.settings import Preset
import dataclasses

folder, template, case = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], check=True)
path = folder / "config.toml"
path.write_text(open(template).read())
config = ConfigFile.load(path)
if case == "read-only":
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
else:
    filler = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(filler, b"x" * 1024)
    except OSError:
        os.close(filler)
before = path.read_bytes()
try:
    config.save_focuser(0, dataclasses.replace(config.settings.focusers[0], presets=[Preset(1, "n" * 60, 1)] * 1))
except ConfigError as exc:
    print("ERROR", exc)
print("UNCHANGED" if path.read_bytes() == before else "CHANGED")
print("FILES", sorted(p.name for p in folder.iterdir()))
"""


@pytest.mark.parametrize("case, reason", [("read-only", "read-only"), ("full", "disk is full")])
def test_a_failing_write_leaves_the_file_unchanged(tmp_path: Path, case: str, reason: str) -> None:
    unshare = require_tool("unshare", "util-linux")
    folder = tmp_path / "mounted"
    folder.mkdir()
    namespace = [unshare, "--mount"] if os.geteuid() == 0 else [unshare, "--mount", "--map-root-user"]
    result = subprocess.run(
        namespace + [sys.executable, "-c", NAMESPACED_SAVE, str(folder), str(TEMPLATE), case],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0 and "mount" in result.stderr and not IN_CI:
        pytest.skip(f"cannot mount a tmpfs in a namespace here: {result.stderr.strip()[-200:]}")
    assert result.returncode == 0, result.stderr
    assert f"ERROR could not save the settings of focuser 1 to {folder / 'config.toml'}" in result.stdout
    assert reason in result.stdout
    assert "UNCHANGED" in result.stdout
    assert "FILES ['config.toml'" in result.stdout and ".tmp" not in result.stdout


def test_readers_never_see_a_partial_file_while_two_threads_save(config_path: Path) -> None:
    config = ConfigFile.load(config_path)
    base = config.settings.focusers[0]
    states = {
        steps: changed(base, backlash_steps=steps, presets=[Preset(slot, f"preset {slot}", steps * 10 + slot) for slot in range(1, steps % 5 + 1)])
        for steps in range(1, 41)
    }
    stop = threading.Event()
    seen: list[int] = []
    broken: list[str] = []

    def read_loop() -> None:
        while not stop.is_set():
            text = config_path.read_text()
            try:
                seen.append(tomllib.loads(text)["focuser"][0]["backlash_steps"])
            except (tomllib.TOMLDecodeError, KeyError) as exc:
                broken.append(f"{exc}: {text!r}")

    def save_loop(steps: range) -> None:
        for value in steps:
            config.save_focuser(0, states[value])

    reader = threading.Thread(target=read_loop)
    writers = [threading.Thread(target=save_loop, args=(range(start, 41, 2),)) for start in (1, 2)]
    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    reader.join()
    assert not broken
    assert set(seen) <= {0} | set(states)
    final = ConfigFile.load(config_path).settings.focusers[0]
    assert final == states[final.backlash_steps]
    assert final.backlash_steps in (39, 40)
    assert not [p for p in config_path.parent.iterdir() if p.name != "config.toml"]


SAVE_LOOP = """
import dataclasses, sys
from alpaca_focuser.config import ConfigFile
from alpaca_focuser.settings import Direction, Preset
config = ConfigFile.load(sys.argv[1])
base = config.settings.focusers[0]
states = [
    dataclasses.replace(base, reverse=True, backlash_steps=10, backlash_direction=Direction.IN, presets=[Preset(1, "A" * 150, 5)]),
    dataclasses.replace(base, reverse=False, backlash_steps=20000, presets=[Preset(s, "B" * 150, s) for s in range(1, 9)]),
]
config.save_focuser(0, states[0])
print("saving", flush=True)
n = 0
while True:
    n += 1
    config.save_focuser(0, states[n % 2])
"""


def test_a_save_loop_killed_at_any_moment_leaves_the_old_or_the_new_file(config_path: Path) -> None:
    ConfigFile.load(config_path)  # fixes the unique id, so both states below are exact texts
    template = config_path.read_bytes()
    texts = set()
    for state in range(2):
        config_path.write_bytes(template)
        process = subprocess.Popen([sys.executable, "-c", SAVE_LOOP.replace("while True", f"while n < {state + 1}"), str(config_path)], stdout=subprocess.PIPE)
        assert process.wait(timeout=60) == 0
        texts.add(config_path.read_bytes())
    assert len(texts) == 2

    for round_number in range(6):
        config_path.write_bytes(template)
        process = subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(config_path)], stdout=subprocess.PIPE)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"saving"
        time.sleep(0.013 * round_number)  # kill at a different point of the loop each round
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        content = config_path.read_bytes()
        assert content in texts, f"round {round_number}: the file is neither the old nor the new text"
        ConfigFile.load(config_path)
        for leftover in config_path.parent.glob(".config.toml.*.tmp"):
            leftover.unlink()


def test_a_missing_file_says_where_it_looked_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        ConfigFile.load(tmp_path / "nowhere.toml")
    message = str(error.value)
    assert str(tmp_path / "nowhere.toml") in message and "--config" in message


BROKEN_FILES = {
    "syntax": ('[server]\nname = Observatory  # HERE\n[[focuser]]\nport = "sim://"\n', "not valid TOML"),
    "syntax at the end": ('[[focuser]]\nport = "sim://"\nname =  # HERE', "not valid TOML"),
    "unknown server key": ('[server]\nname = "x"\nhttp_prot = 80  # HERE\n[[focuser]]\n', 'unknown key "http_prot"'),
    "unknown focuser key": ('[[focuser]]\nport = "sim://"\nbacklash_step = 5  # HERE\n', 'Did you mean "backlash_steps"'),
    "unknown table": ('[servre]  # HERE\nname = "x"\n[[focuser]]\n', 'unknown key "servre"'),
    "single brackets": ('[focuser]  # HERE\nport = "sim://"\n', "[[focuser]] (double brackets)"),
    "no focuser": ("[server]\nname = \"x\"\n", "no [[focuser]] table"),
    "port out of range": ('[server]\nhttp_port = 70000  # HERE\n[[focuser]]\n', "from 1 to 65535"),
    "bool for a number": ('[[focuser]]\nport = "sim://"\nbaud = true  # HERE\n', "whole number"),
    "negative backlash": ('[[focuser]]\nport = "sim://"\nbacklash_steps = -3  # HERE\n', "from 0 to 65535"),
    "direction": ('[[focuser]]\nbacklash_direction = "sideways"  # HERE\n', '"in", "out", "none"'),
    "log level": ('[server]\nlog_level = "chatty"  # HERE\n[[focuser]]\n', '"DEBUG"'),
    "step size": ('[[focuser]]\nstep_size_um = 0  # HERE\n', "above 0"),
    "poll too fast": ('[[focuser]]\npoll_moving_ms = 1  # HERE\n', "from 5 to 5000"),
    "text for a number": ('[[focuser]]\nreply_timeout_s = "1"  # HERE\n', "number of seconds"),
    "empty name": ('[[focuser]]\nname = ""  # HERE\n', "non-empty text"),
    "bad bind": ('[server]\nbind = "every interface"  # HERE\n[[focuser]]\n', "IP address or host name"),
    "unknown scheme": ('[[focuser]]\nport = "sock://1.2.3.4:2000"  # HERE\n', "sock:// is not one"),
    "socket without port": ('[[focuser]]\nport = "socket://wifi-module"  # HERE\n', "socket://HOST:PORT"),
    "second focuser": ('[[focuser]]\nport = "sim://a"\n[[focuser]]\nport = "sim://b"\nsettle_ms = 99999  # HERE\n', "[[focuser]] number 2"),
    "same port twice": ('[[focuser]]\nport = "/dev/ttyACM0"\n[[focuser]]\nport = "/dev/ttyACM0"  # HERE\n', "(also on line 2)"),
    "copied unique id": ('[[focuser]]\nport = "sim://a"\nunique_id = "x"\n[[focuser]]\nport = "sim://b"\nunique_id = "x"  # HERE\n', "Delete the unique_id line"),
    "duplicate slot": (
        '[[focuser]]\n[[focuser.presets]]\nslot = 1\nname = "a"\nposition = 1\n[[focuser.presets]]\nslot = 1  # HERE\nname = "b"\nposition = 2\n',
        "slot 1 is used twice",
    ),
    "preset without position": ('[[focuser]]\n[[focuser.presets]]  # HERE\nslot = 1\nname = "a"\n', "lacks position"),
    "unknown preset key": ('[[focuser]]\n[[focuser.presets]]\nslot = 1\nname = "a"\nposition = 1\npos = 3  # HERE\n', 'unknown key "pos"'),
    "bad inline preset": (
        '[[focuser]]\npresets = [\n  {slot = 1, name = "a {b}", position = 1},\n  {slot = 2, name = "", position = 2},  # HERE\n]\n',
        "name in preset 2 of [[focuser]] number 1",
    ),
    "preset beyond 24 bits": ('[[focuser]]\npresets = [{slot = 1, name = "far", position = 16777216}]  # HERE\n', "from 0 to 16777215"),
    "presets not a list": ('[[focuser]]\npresets = "none"  # HERE\n', "must be a list"),
}


@pytest.mark.parametrize("text, fragment", BROKEN_FILES.values(), ids=BROKEN_FILES.keys())
def test_a_broken_file_names_the_file_the_line_and_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as error:
        ConfigFile.load(path)
    message = str(error.value)
    assert fragment in message
    assert message.startswith(str(path))
    marked = [number for number, line in enumerate(text.splitlines(), start=1) if "# HERE" in line]
    if marked:
        assert f", line {marked[0]}:" in message
        assert error.value.line == marked[0]
    assert path.read_bytes() == before


def test_an_unknown_key_lists_the_valid_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[[focuser]]\ncolour = "red"\n')
    with pytest.raises(ConfigError) as error:
        ConfigFile.load(path)
    for key in dataclasses.fields(FocuserSettings):
        assert key.name in str(error.value)
