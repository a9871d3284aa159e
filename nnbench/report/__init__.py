"""From result records to tables, figures and one page: ``python -m nnbench.report``.

The report reads only ``result.json`` files; it never imports a trainer or a config.
"""
