"""Celestron AUX protocol: frames, focuser commands and the serial link. No Alpaca knowledge here."""
