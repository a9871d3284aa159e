"""What the report works out from records beyond the verdicts: two sides compared (and the
gate on them), what changed between them, a history's steps, each sweep's cost model."""
