"""What the report writes: tables, figures (pages of configurations), summary.md, report.html,
and the ``--out`` folder written as a whole."""
