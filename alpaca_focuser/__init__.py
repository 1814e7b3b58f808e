"""ASCOM Alpaca server for the Celestron Focus Motor."""

__version__ = "1.0.0"
