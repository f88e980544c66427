"""What stops an ingestion before or during the work (as opposed to one file failing)."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad arguments or set-up (no input matched, unusable output directory, unreachable service): exit 2."""


class StopIngest(RuntimeError):
    """Going on cannot succeed (the service stopped answering, or refuses the key): stop, keep what is done."""
