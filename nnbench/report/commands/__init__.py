"""The commands of ``python -m nnbench.report``: the report, ``compare`` and ``history``, with
their options and what each cannot take."""
