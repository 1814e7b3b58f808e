"""``alpaca-focuser ports``: its arguments and its run live with the code it drives (ports)."""

from ..ports import add_arguments, run

__all__ = ["add_arguments", "run"]
