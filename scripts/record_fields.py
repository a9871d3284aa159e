"""Print the result record's fields as a Markdown table, from the schema in nnbench/record.py.

The manual's field table (docs/record.md) is this output; a test keeps the two the same, and
--update writes it there (between the record-fields markers). With --json, print the JSON Schema
instead (for other tools that read result.json).

    python scripts/record_fields.py [--json | --update]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from nnbench.record import Record


def _type(annotation: object) -> str:
    text = str(annotation).replace("typing.", "").replace("nnbench.record.", "")
    text = re.sub(r"<class '([\w.]+)'>", r"\1", text)
    return text.replace("Literal['ok', 'skipped', 'diverged', 'oom', 'failed']", "status")


def table() -> str:
    lines = ["| field | type | meaning |", "|---|---|---|"]
    for name, info in Record.model_fields.items():
        kind = _type(info.annotation).replace("|", "or")
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
