"""What crosses the network besides the Alpaca API: the discovery responder, the discovery client
behind ``alpaca-focuser discover``, and the mDNS advertisement."""
