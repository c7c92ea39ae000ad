"""Errors a run reports to the person who started it, importable without DuckDB."""

from __future__ import annotations


class DiskFull(OSError):
    """The disk of the warehouse filled up during a run; what was committed before stands."""
