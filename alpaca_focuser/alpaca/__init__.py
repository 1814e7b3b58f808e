"""The Alpaca HTTP face: device API from a member table, management API, setup pages."""
