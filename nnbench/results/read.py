"""A record as the report holds it: ``ReadRecord``, the schema's ``Record`` with what the report
adds (the file it was read from, its variant), read by attribute rather than by name.

``collect`` validates each file against ``Record`` once; what it keeps is made from the checked
values without validating them again (``ReadRecord.of``). So its sections of statistics
(``train_time_per_epoch_stats_s``, the tails) stay the dicts they were read as, and its series
may be arrays (``index.compact``). A field the file did not have reads as the schema's default
(an empty list, ``round`` 0, ``exclusive`` true); ``stored`` gives only what the file had, as
the flat table and ``nnbench.load`` show it.

The nested sections (``identity``, ``environment``, ``scheduler``, ``contention``) are dicts
whose keys the job writes; the properties below name what the report asks of them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nnbench.record import Record


class ReadRecord(Record):
    """One valid record as read, with what the report adds to it."""

    result_file: str = Field("", description="the result.json it was read from")
    variant: str = Field("", description="the measured keys that tell it from its namesakes "
                                         "(``labels.assign_variants``)")

    @classmethod
    def of(cls, data: dict | Record) -> ReadRecord:
        """``data`` as a read record, without a second validation: one as it is, a ``Record``
        (a job's, from ``nnbench.run``) with its fields, a dict of checked values (a file
        ``collect`` read, a script's or a test's record) with its own."""
        if isinstance(data, ReadRecord):
            return data
        if isinstance(data, Record):  # its sections as dicts, as a file's are read
            return cls.model_construct(**data.model_dump(exclude_unset=True))
        return cls.model_construct(**data)

    def stored(self) -> dict[str, Any]:
        """The fields the file had (and the report set), in the schema's order."""
        given = self.model_fields_set
        return {name: value for name, value in self.__dict__.items() if name in given}

    def env(self, name: str) -> Any:
        """One entry of the job's ``environment`` (hostname, cpu_model, numpy, time_utc...)."""
        return (self.environment or {}).get(name)

    @property
    def started(self) -> str:
        """When the job started (``environment.time_utc``), "" when the record does not say."""
        return str(self.env("time_utc") or "")

    def part(self, name: str) -> dict[str, Any]:
        """One part of the identity (config, code, data, environment); {} in an older record."""
        return (self.identity or {}).get(name) or {}

    def digest(self, name: str) -> str | None:
        """The digest of one part of the identity (None in an older record)."""
        return self.part(name).get("digest")

    @property
    def setting(self) -> str | None:
        """The digest of the measured configuration less the framework's keys: what two
        frameworks compared on one configuration share."""
        return self.part("config").get("setting")

    @property
    def measured(self) -> dict[str, Any]:
        """The measured configuration keys and their values ({} in an older record)."""
        return self.part("config").get("content") or {}

    @property
    def node(self) -> str | None:
        """The scheduler's name for the host, where a scheduler ran the job."""
        return (self.scheduler or {}).get("node")

    @property
    def gpu(self) -> dict[str, Any]:
        """The job's GPU as the environment describes it ({} without one)."""
        gpu = self.env("gpu")
        return gpu if isinstance(gpu, dict) else {}

    @property
    def contention_level(self) -> str | None:
        """quiet, busy or oversubscribed; None where the host's contention was not read."""
        return (self.contention or {}).get("level")


def as_records(rows: Any) -> list[ReadRecord]:
    """Each of ``rows`` as a typed record (dicts from a script or a test; records as they are)."""
    return [ReadRecord.of(row) for row in rows]
