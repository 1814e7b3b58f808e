"""Writing the file atomically (temp file, fsync, rename, folder fsync), one save at a time per
file, and clearing away what an interrupted save left."""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import tempfile
import threading
from pathlib import Path

from .reading import parse_settings
from .rules import ConfigError

log = logging.getLogger(__name__)

_SAVE_LOCKS: dict[str, threading.Lock] = {}
_SAVE_LOCKS_GUARD = threading.Lock()


def _save_lock(path: Path) -> threading.Lock:
    """One lock per file, shared by every ConfigFile on it, so two saves never interleave."""
    key = os.path.realpath(path)
    with _SAVE_LOCKS_GUARD:
        return _SAVE_LOCKS.setdefault(key, threading.Lock())


def _write_failure(path: Path, exc: OSError, what: str) -> ConfigError:
    reasons = {
        errno.ENOSPC: "the disk is full; free some space",
        errno.EDQUOT: "the disk quota is used up; free some space",
        errno.EROFS: "the file system is read-only; remount it read-write",
        errno.EACCES: f"this user may not write in {path.parent}; give it write permission on that folder",
        errno.EPERM: f"this user may not write in {path.parent}; give it write permission on that folder",
    }
    advice = reasons.get(exc.errno or 0, "check the disk and the folder's permissions")
    return ConfigError(f"could not save {what} to {path}: {exc.strerror or exc}. The file is unchanged; {advice}.", path=path)


def atomic_write(path: Path, text: str, what: str = "the configuration") -> None:
    """Replace ``path`` with ``text`` so that any reader sees either the old or the new file, whole.

    The new text goes to a temp file in the same folder (a rename is atomic only within one file
    system), is flushed to disk, renamed over the old file, and the folder entry itself is synced so
    the rename survives a power cut.
    """
    try:
        current = os.stat(path)
    except OSError as exc:
        raise _write_failure(path, exc, what) from None
    if _on_read_only_file_system(path):
        raise _write_failure(path, OSError(errno.EROFS, os.strerror(errno.EROFS)), what)
    if not current.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        raise ConfigError(
            f"could not save {what} to {path}: the file is read-only. The file is unchanged; "
            f"make it writable (chmod u+w {path}) to keep changes made while the server runs.",
            path=path,
        )
    temp: str | None = None
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, stat.S_IMODE(current.st_mode))
        if hasattr(os, "chown") and os.geteuid() == 0:
            os.chown(temp, current.st_uid, current.st_gid)
        os.replace(temp, path)
        temp = None
    except OSError as exc:
        raise _write_failure(path, exc, what) from None
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
    _sync_folder(path.parent)


def remove_interrupted_saves(path: Path) -> None:
    """Delete the temp files that saves of ``path`` left when the server was killed mid-save.

    A save writes a whole new copy beside the file and renames it over the file only when it is
    complete, so a leftover copy was never in place and its change was never confirmed to a client.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    try:
        leftovers = [entry for entry in path.parent.iterdir() if pattern.fullmatch(entry.name)]
    except OSError:
        return
    for leftover in leftovers:
        try:
            complete = _is_complete_copy(leftover)
            leftover.unlink()
        except OSError as exc:
            log.warning("Could not remove %s, left by an interrupted save: %s", leftover, exc.strerror or exc)
            continue
        kind = "a complete copy" if complete else "an unfinished copy"
        log.info("Removed %s, %s of the configuration left by a save that was interrupted; %s itself is whole and in use", leftover.name, kind, path)


def _is_complete_copy(leftover: Path) -> bool:
    try:
        parse_settings(leftover.read_text(encoding="utf-8"), leftover)
    except (ConfigError, UnicodeDecodeError):
        return False
    return True


def _on_read_only_file_system(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):
        return False  # no statvfs on Windows; the write itself reports the problem there


def _sync_folder(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; its rename is already durable enough
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


