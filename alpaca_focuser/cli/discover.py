"""``alpaca-focuser discover``: its arguments and its run live with the code it drives (the discovery client)."""

from ..network.client import add_arguments, run

__all__ = ["add_arguments", "run"]
