"""nnbench's sweeper as a Hydra plugin (Hydra instantiates sweepers only from hydra_plugins).

Hydra's basic sweeper with two additions: ``bench.rounds=N`` runs the whole sweep N times,
round-major (nnbench.cli.rounds), and every job's configuration is resolved before the first job
is launched (nnbench.cli.sweeper). ``nnbench.cli.sweeper.register`` (called with the schema's)
registers the config ``hydra/sweeper: nnbench`` that conf/config.yaml selects. The class is made
here because Hydra's plugin scan executes the basic sweeper's module anew.
"""

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from nnbench.cli.rounds import RoundsFirst
from nnbench.cli.sweeper import CheckAllJobs


class CheckedSweeper(RoundsFirst, CheckAllJobs, BasicSweeper):
    """``hydra/sweeper=nnbench``: rounds first, every job checked, then the basic sweep."""
