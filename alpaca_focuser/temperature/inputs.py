"""What a temperature source reads, bounded and strict.

Sources read what anybody can write or serve: a file a script rewrites (or appends to for ever), a
path that names /dev/zero or a FIFO by mistake, a web server that is not what it claims to be.
Reading any of them whole lets one mistake fill a Raspberry Pi's memory, and opening a FIFO or a
device can block the reader for ever. So only a regular file is opened, without blocking, and only
its last few KiB are read (an Alpaca device is called through network/outbound.py, with the same
care). Numbers are plain decimals: Python's own syntax also
takes "1_1" (eleven), digits of other scripts, "inf" and "nan", none of which a sensor writes.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..safe_text import clipped

FILE_READ_LIMIT = 4096  # bytes from the end of a file: dozens of lines of a log that keeps growing
_DECIMAL = re.compile(rb"[+-]?[0-9]+(?:\.[0-9]+)?")
_INTEGER = re.compile(rb"[+-]?[0-9]+")
# Opening a FIFO without O_NONBLOCK waits for a writer; O_NOCTTY keeps a terminal from becoming ours.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISSOCK, "a socket"),
)


class SourceError(Exception):
    """A reading that failed; the message says what happened and what to check."""


def shown(data: bytes | str, limit: int = 40) -> str:
    """A short quote of what was found instead of a temperature, for a message."""
    return repr(clipped(data.decode("ascii", errors="replace") if isinstance(data, bytes) else data, limit))


def _refuse_unless_regular(mode: int, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise SourceError(f"{what} is {kind}, which is never read: name a regular file that a program rewrites with the temperature")


def _open_regular(path: Path, what: str) -> tuple[int, os.stat_result]:
    """An open descriptor of ``path`` and its status, once it is certain to be a regular file.

    Checked before opening (opening some devices does something, such as resetting a board on a
    serial port) and again after, in case the path was swapped for a FIFO in between. OSError
    when the path cannot be opened.
    """
    _refuse_unless_regular(os.stat(path).st_mode, what)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        status = os.fstat(fd)
        _refuse_unless_regular(status.st_mode, what)
    except BaseException:
        os.close(fd)
        raise
    return fd, status


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := os.read(fd, limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def last_line(path: Path, what: str) -> tuple[bytes, float]:
    """The last non-blank line of a regular file and when the file was last written.

    Only the last FILE_READ_LIMIT bytes are read, so a file rewritten with one number and a log
    that a script appends to (``echo $T >> file``) are read alike, however long the log grows.
    """
    fd, status = _open_regular(path, what)
    try:
        start = max(0, status.st_size - FILE_READ_LIMIT)
        os.lseek(fd, start, os.SEEK_SET)
        data = _read_up_to(fd, FILE_READ_LIMIT)
    finally:
        os.close(fd)
    if start > 0:
        data = data.partition(b"\n")[2]  # the first line read is the end of a longer one
    lines = [line.strip() for line in data.splitlines() if line.strip()]
    if lines:
        return lines[-1], status.st_mtime
    if start > 0:
        raise SourceError(f"{what} ends in a line longer than {FILE_READ_LIMIT} bytes, which is no temperature; check what writes it")
    raise SourceError(f"{what} is empty; check that the program writing it runs")


def first_bytes(path: Path, what: str) -> bytes:
    """The first FILE_READ_LIMIT bytes of a regular file (a sensor's small status file)."""
    fd, _ = _open_regular(path, what)
    try:
        return _read_up_to(fd, FILE_READ_LIMIT)
    finally:
        os.close(fd)


def decimal(text: bytes, what: str) -> float:
    """A plain decimal number, like 12.5 or -3: sign, digits, optionally a point and digits."""
    if not _DECIMAL.fullmatch(text):
        raise SourceError(f"{what} holds {shown(text)}, not a number of degrees Celsius written plainly, like 12.5 or -3")
    return float(text)


def integer(text: bytes, what: str) -> int:
    """A plain whole number in ASCII digits, with an optional sign."""
    if not _INTEGER.fullmatch(text):
        raise SourceError(f"{what} gave {shown(text)}, not a whole number")
    return int(text)
