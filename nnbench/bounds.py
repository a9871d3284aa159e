"""The bounds a result record's numbers are held to, as types the schema's fields are declared
with (``nnbench/record.py``): times and counts never negative, accuracies in [0, 1], epoch
times above zero, and nothing that is not finite where a number belongs.

They are pydantic's own constraints, checked in its compiled core, so thousands of records with
their histories still validate in seconds. JSON has no NaN or infinity: the writer stores a
figure that is not finite as null (a diverged job's loss), so a file that holds one was not
written by nnbench and is refused when read back; while a record is being built, the same rule
turns a probe's NaN into null first (``Section``), so what is held in memory is what is written.
``Stats``, the statistics block of every timing, is bounded the same way.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
STORED = {"stored": True}  # validation context of a record read from a file: no leniency


def finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by null, at any depth: what JSON
    can hold (``json.dumps`` would write NaN, which no JSON parser need accept)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


class Section(BaseModel):
    """What the record's parts share: no field they do not declare, and a figure that is not
    finite stored as null as the part is built, unless it is read back (context ``STORED``)."""

    # Lax where JSON is lax (1e6 for an int field, an int for a float), strict about the rest:
    # a string where a number belongs, or an object where a name belongs, is refused.
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _as_stored(cls, data: Any, info: ValidationInfo) -> Any:
        return data if info.context == STORED else finite(data)


class Stats(Section):
    """Median and spread of timing samples (seconds): ``nnbench.stats.summarize``."""

    model_config = {"extra": "allow"}
    n: Count | None = None
    median: NonNegative | None = None
    q1: NonNegative | None = None
    q3: NonNegative | None = None
    iqr: NonNegative | None = None
    min: NonNegative | None = None
    max: NonNegative | None = None
    mean: NonNegative | None = None
    cv: NonNegative | None = None
    rel_iqr: NonNegative | None = None
    mad: NonNegative | None = None


class Tail(Section):
    """Tail of timed calls (seconds): ``nnbench.stats.tails.tail``. A percentile too few calls
    cannot support is null, and ``omitted`` says why."""

    calls: Count = 0
    p50: NonNegative | None = None
    p90: NonNegative | None = None
    p99: NonNegative | None = None
    max: NonNegative | None = None
    p50_bound: NonNegative | None = None
    p90_bound: NonNegative | None = None
    p99_bound: NonNegative | None = None
    omitted: dict[str, str] = {}


def explain(err: ValidationError) -> str:
    """A validation error as one line: the first field and why, and how many more."""
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    why = first["msg"].removeprefix("Value error, ")  # the record's own checks say what is wrong
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {why}{more}" if where else f"{why}{more}"
