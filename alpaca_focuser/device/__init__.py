"""The focuser as a device, with no HTTP in it: the worker's state machine, its jobs, positions
and presets. The Alpaca layer sees only ``Focuser`` and the snapshots it publishes."""

from .focuser import CelestronFocuser
from .interface import CalibrationStatus, Focuser, FocuserState

__all__ = ["CalibrationStatus", "CelestronFocuser", "Focuser", "FocuserState"]
