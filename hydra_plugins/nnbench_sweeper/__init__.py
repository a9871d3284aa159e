"""nnbench's sweeper as a Hydra plugin (Hydra instantiates sweepers only from hydra_plugins).

The behaviour is ``nnbench.hydra.sweeper``'s (rounds first, every job resolved before any runs);
the class is made here because Hydra's plugin scan executes the basic sweeper's module anew.
``nnbench.hydra.register`` registers the config ``hydra/sweeper: nnbench`` that
conf/config.yaml selects.
"""

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from nnbench.hydra.sweeper import CheckAllJobs, RoundsFirst


class CheckedSweeper(RoundsFirst, CheckAllJobs, BasicSweeper):
    """``hydra/sweeper=nnbench``: rounds first, every job checked, then the basic sweep."""
