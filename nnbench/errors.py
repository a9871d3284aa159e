"""What every layer may raise, in one place, so that no layer imports another for its errors.

- ``ConfigError``: a configuration that cannot run; found before any job starts (exit 2).
- ``DataError``: data that cannot be had or read; the job ends ``failed`` with the reason.
- ``Skip``: this host cannot run the job (no GPU, no half-width arithmetic); the job ends
  ``skipped`` with the reason, and a sweep goes on.

Every message is one line for the user: what is wrong, and what is allowed.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key and what is allowed."""


class DataError(Exception):
    """Data that cannot be had or read; the message says what was tried."""


class Skip(Exception):
    """This job cannot run on this host; the message is the reason."""
