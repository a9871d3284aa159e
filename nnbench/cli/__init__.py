"""The command line's parts: the console line, one-line errors, the sweep's tally, and what a
Hydra launcher means for a job's timings."""
