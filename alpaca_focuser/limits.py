"""Limits written once: the configuration, the device model, the actions and the simulator all
check against these, so a value accepted in one place is never refused in another."""

POSITION_MAX = 0xFFFFFF  # device counts are 24-bit on the wire
PRESET_SLOTS = range(1, 21)  # preset slot numbers a user can save into
BACKLASH_STEPS_MAX = 65535
