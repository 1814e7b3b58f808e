"""Writing system files (a systemd unit, a udev rule) the way `service` and `udev` need it: under
a --root for tests and packagers, as a --dry-run that only prints, idempotent (a file already as
wanted is left alone, so installing twice changes nothing), then the commands that make the
system take the change, which run only on the real root."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Say = Callable[[str], None]
UNIT_NAME = "alpaca-focuser.service"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")


@dataclass(frozen=True)
class Wanted:
    """A file as it must be on the target system (``path`` is absolute there)."""

    path: Path
    text: str
    mode: int = 0o644


@dataclass
class Plan:
    write: list[Wanted] = field(default_factory=list)
    remove: list[Path] = field(default_factory=list)
    before: list[list[str]] = field(default_factory=list)  # run before the files change (stop a service)
    after: list[list[str]] = field(default_factory=list)  # run after a change (reload, enable)
    always: list[list[str]] = field(default_factory=list)  # run after, even when no file changed (enable --now)


def own_command() -> list[str]:
    """The absolute command of this installation, whatever PATH says (sudo does not search ~/.local/bin)."""
    script = Path(sys.executable).parent / "alpaca-focuser"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "alpaca_focuser"]


def on_root(root: Path, path: Path) -> Path:
    """``path`` of the target system, as seen from here when that system is mounted at ``root``."""
    return root / path.relative_to(path.anchor) if root != Path("/") else path


def apply(plan: Plan, root: Path, dry_run: bool, say: Say) -> bool:
    """Carry out ``plan``; True when every command that ran succeeded."""
    if dry_run:
        for wanted in plan.write:
            say(f"--- {wanted.path} (mode {wanted.mode:o})\n{wanted.text.rstrip()}\n---")
        for path in plan.remove:
            say(f"Would remove {path}")
        for command in plan.before + plan.after + plan.always:
            say(f"Would run: {shlex.join(command)}")
        return True
    ok = _run_all(plan.before, root, say) if any(on_root(root, path).exists() for path in plan.remove) else True
    changed = False
    for wanted in plan.write:
        changed |= _write(wanted, root, say)
    for path in plan.remove:
        target = on_root(root, path)
        if target.exists():
            target.unlink()
            say(f"Removed {path}")
            changed = True
        else:
            say(f"{path} was not there")
    if changed:
        ok &= _run_all(plan.after, root, say)
    return ok & _run_all(plan.always, root, say)


def _write(wanted: Wanted, root: Path, say: Say) -> bool:
    target = on_root(root, wanted.path)
    try:
        current = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current == wanted.text and (target.stat().st_mode & 0o777) == wanted.mode:
        say(f"{wanted.path} is already as it should be")
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.new")
    temp.write_text(wanted.text, encoding="utf-8")
    os.chmod(temp, wanted.mode)
    os.replace(temp, target)
    say(f"{'Updated' if current is not None else 'Wrote'} {wanted.path}")
    return True


def _run_all(commands: list[list[str]], root: Path, say: Say) -> bool:
    ok = True
    for command in commands:
        if root != Path("/"):
            say(f"Not run, since the files went to {root}: {shlex.join(command)}")
            continue
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            say(f"Could not run {shlex.join(command)}: {error}")
            ok = False
            continue
        if result.returncode != 0:
            say(f"{shlex.join(command)} failed: {(result.stderr or result.stdout).strip()}")
            ok = False
        else:
            say(f"Ran: {shlex.join(command)}")
    return ok


def service_config(root: Path) -> Path | None:
    """The configuration file the installed system service reads (its ExecStart's --config), or None."""
    try:
        text = on_root(root, SYSTEM_UNIT_DIR / UNIT_NAME).read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            words = shlex.split(line.removeprefix("ExecStart="))
            if "--config" in words[:-1]:
                return Path(words[words.index("--config") + 1])
    return None
