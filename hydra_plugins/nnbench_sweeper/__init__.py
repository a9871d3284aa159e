"""nnbench's sweeper as a Hydra plugin (Hydra instantiates sweepers only from hydra_plugins).

Hydra's basic sweeper, resolving every job's configuration before launching the first; the code
is in nnbench.cli.sweeper, whose ``register`` (called with the schema's) registers the config
``hydra/sweeper: nnbench`` that conf/config.yaml selects.
"""

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from nnbench.cli.sweeper import CheckAllJobs


class CheckedSweeper(CheckAllJobs, BasicSweeper):
    """``hydra/sweeper=nnbench``: see nnbench.cli.sweeper."""
