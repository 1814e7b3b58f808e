"""Benchmarks of what a user of the focuser server feels: move-end latency, status reads under
load, autofocus overhead, wire traffic, footprint and discovery, side by side with INDI.

Run them with ``make bench`` or ``python -m benchmarks [--only 1,3]``. They print figures and
write ``benchmarks/results.json``; they never fail the build because a figure missed its target.
"""
