"""Debian's libnexstar (libnexstar0) through ctypes: a real third-party client of a NexStar hand
controller's serial protocol, for the hand-controller and shared-port tests."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest
from conftest import IN_CI


def libnexstar() -> ctypes.CDLL:
    name = ctypes.util.find_library("nexstar") or "libnexstar.so.0"
    try:
        library = ctypes.CDLL(name)
    except OSError:
        message = "libnexstar is not installed (Debian package libnexstar0)"
        if IN_CI:
            pytest.fail(message + "; .ci/run must install it")
        pytest.skip(message)
    library.open_telescope.argtypes = [ctypes.c_char_p]
    library.open_telescope.restype = ctypes.c_int
    library.close_telescope.argtypes = [ctypes.c_int]
    library.tc_pass_through_cmd.argtypes = [ctypes.c_int] + [ctypes.c_char] * 7 + [ctypes.c_char_p]
    library.tc_pass_through_cmd.restype = ctypes.c_int
    return library
