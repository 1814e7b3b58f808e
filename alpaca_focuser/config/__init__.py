"""Load, validate and atomically save the configuration file.

The file is the single source of truth for a running server: a value that fails validation stops
the start with a message naming the file and line, because running on silent defaults would move a
telescope with settings the user never chose. What the user changes at run time (reverse, backlash,
presets) and the generated UniqueIDs are written back with tomlkit so the user's comments and layout
survive, through a temp file and a rename so that a crash or a full disk never leaves half a file.
"""

from .file import ConfigFile
from .reading import parse_settings
from .rules import ConfigError, check_focuser_setting
from .saving import atomic_write, remove_interrupted_saves

__all__ = [
    "ConfigError",
    "ConfigFile",
    "atomic_write",
    "check_focuser_setting",
    "parse_settings",
    "remove_interrupted_saves",
]
