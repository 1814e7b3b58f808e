"""Temperature for a focuser that has no sensor: a source the user already has (an Alpaca weather
device, a 1-wire DS18B20, a file), temperature compensation, and a coefficient learned from the
user's own focus runs. ``assembly.create_service`` builds it for one focuser.

The ``temperature`` setting's grammar is in ``config.temperature_spec``, one floor down, because
the configuration checks it too.
"""
