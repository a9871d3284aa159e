"""Print the result record's fields as a Markdown table, from the schema in nnbench/record.py.

The manual's field table (docs/record.md) is this output; a test keeps the two the same, and
--update writes it there (between the record-fields markers). With --json, print the JSON Schema
instead (for other tools that read result.json).

    python scripts/record_fields.py [--json | --update]
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path
from typing import Annotated, Literal, Union, get_args, get_origin

from nnbench.record import STATUSES, Record


def _bounds(metadata: list) -> str:
    """A bounded type's bounds as a reader writes them: ≥ 0, > 0, in [0, 1]."""
    found = {k: getattr(m, k) for m in metadata for k in ("ge", "gt", "le") if hasattr(m, k)}
    if {"ge", "le"} <= found.keys():
        return f" in [{found['ge']}, {found['le']}]"
    return "".join(f" {sign} {found[k]}" for k, sign in (("ge", "≥"), ("gt", ">")) if k in found)


def _type(annotation: object) -> str:
    """A field's type, its bounds said (every float of a record is finite: no NaN)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type(args[0]) + _bounds([m for a in args[1:] for m in a.metadata])
    if origin in (Union, types.UnionType):
        return " or ".join(_type(a) for a in args)
    if origin is Literal:
        return "status" if set(args) == set(STATUSES) else " or ".join(map(repr, args))
    if args:
        return f"{origin.__name__}[{', '.join(_type(a) for a in args)}]"
    return "None" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


def table() -> str:
    lines = ["| field | type | meaning |", "|---|---|---|"]
    for name, info in Record.model_fields.items():
        kind = _type(info.annotation)
        lines.append(f"| `{name}` | {kind} | {info.description or ''} |")
    return "\n".join(lines)


PAGE = Path(__file__).resolve().parent.parent / "docs" / "record.md"
START, END = "<!-- record-fields:start -->", "<!-- record-fields:end -->"


def update(page: Path = PAGE) -> None:
    """Replace the table between the markers of ``page`` with ``table()``."""
    text = page.read_text()
    head, rest = text.split(START)
    _, tail = rest.split(END)
    page.write_text(f"{head}{START}\n\n{table()}\n\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON Schema")
    parser.add_argument("--update", action="store_true",
                        help=f"write the table into {PAGE.relative_to(PAGE.parent.parent)}")
    args = parser.parse_args()
    if args.update:
        update()
    elif args.json:
        json.dump(Record.model_json_schema(), sys.stdout, indent=1)
        print()
    else:
        print(table())


if __name__ == "__main__":
    main()
