"""What every layer may raise, in one place, so that no layer imports another for its errors.

- ``ConfigError``: a configuration that cannot run; found before any job starts (exit 2).
- ``DataError``: data that cannot be had or read; the job ends ``failed`` with the reason.
- ``Skip``: this host cannot run the job (no GPU, no half-width arithmetic); the job ends
  ``skipped`` with the reason, and a sweep goes on.

Every message is one line for the user: what is wrong, and what is allowed.
"""

from __future__ import annotations

import re


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key and what is allowed."""


class DataError(Exception):
    """Data that cannot be had or read; the message says what was tried."""


class Skip(Exception):
    """This job cannot run on this host; the message is the reason."""


# OmegaConf's words for a value that did not convert, and how a user reads them
_KINDS = {"Integer": "a whole number", "Float": "a number", "Boolean": "true or false",
          "bool": "true or false"}
_WRONG_TYPE = re.compile(r"Value '(.*)' (?:of type '\w+' could not be converted to (\w+)|"
                         r"is not a valid (bool))")


def value_line(key: str | None, head: str) -> str:
    """One line for OmegaConf's message ``head`` about ``key``: ``train.lr=fast is not a
    number`` where a value did not convert to the key's type, ``key: head`` otherwise."""
    wrong = _WRONG_TYPE.match(head)
    kind = wrong and (wrong.group(2) or wrong.group(3))
    if key and kind in _KINDS:
        return f"{key}={wrong.group(1)} is not {_KINDS[kind]}"  # type: ignore[union-attr]
    return f"{key}: {head}" if key and key not in head else head


def first_meaningful_line(text: str) -> str:
    """What another program's output (an interpreter's stderr, an error's many-line message)
    says went wrong, in one line: a Python traceback's exception; else the first line with words
    in it, not a banner in capitals nor a parenthesised continuation, to the end of its first
    sentence, and the cause that closes NumPy's import text ("Original error was: ..."), where
    there is one. Empty when it says nothing."""
    lines = [ln.strip() for ln in text.splitlines()]
    if any(ln.startswith("Traceback (most recent call last)") for ln in lines):
        raised = [ln for ln in text.splitlines() if ln.strip() and not ln[:1].isspace()
                  and not ln.startswith(("Traceback", "During handling", "The above"))]
        if raised:
            return raised[-1].strip()
    said = next((ln for ln in lines if re.search(r"[a-z]{2}", ln) and not ln.startswith("(")),
                "")
    sentence = re.match(r"(.+?[.!?])(\s|$)", said)
    line = sentence.group(1) if sentence else said
    cause = next((ln for ln in lines if ln.startswith("Original error was:")), None)
    return f"{line} ({cause})" if cause and cause != line else line
