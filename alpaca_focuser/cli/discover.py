"""``alpaca-focuser discover``: its arguments and its run live with the code it drives (finder)."""

from ..finder import add_arguments, run

__all__ = ["add_arguments", "run"]
