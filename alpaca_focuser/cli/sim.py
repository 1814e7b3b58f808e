"""``alpaca-focuser sim``: its arguments and its run live with the code it drives (simulator.command)."""

from ..simulator.command import add_arguments, run

__all__ = ["add_arguments", "run"]
