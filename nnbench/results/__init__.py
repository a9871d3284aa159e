"""A body of result records: read and checked (``collect``, with its ``index``), named
(``labels``), pooled over rounds (``pooling``) and said in words (``verdict``); a sweep's closing
lines (``sweep_summary``) and a history's sets in time order (``sets``).

What a sweep's end and the report both need lives here, so that the job and sweep path never
import the report. Light at import on purpose: nothing here is imported until asked for (a
job's console line takes ``labels`` and must not pull in pandas).
"""
