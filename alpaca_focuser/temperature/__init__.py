"""Temperature for a focuser that has no sensor: a source the user already has (an Alpaca weather
device, a 1-wire DS18B20, a file), temperature compensation, and a coefficient learned from the
user's own focus runs. ``assembly.create_service`` builds it for one focuser.

Nothing is imported here, so the configuration module can check a ``temperature`` setting with
``sources.parse_spec`` without pulling in the rest.
"""
