"""Where scripts found a sweep's verdicts before they moved beside the records they are read
from (``nnbench.results.sweep_summary``): kept so that those scripts keep working."""

from nnbench.results.sweep_summary import interval_widths, ratio_lines, sweep_verdicts

__all__ = ["interval_widths", "ratio_lines", "sweep_verdicts"]
