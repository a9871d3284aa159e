"""nnbench's rounds sweeper as a Hydra plugin (Hydra loads sweepers only from hydra_plugins).

The code is in nnbench.cli.rounds; conf/hydra/sweeper/rounds.yaml names this class, and
conf/config.yaml makes it the sweeper of every ``-m`` run. It is Hydra's BasicSweeper, with
``bench.round`` as the outermost loop when ``bench.rounds`` > 1.
"""

from nnbench.cli.rounds import RoundsSweeper as _RoundsSweeper


class RoundsSweeper(_RoundsSweeper):
    """``hydra/sweeper=rounds``: see nnbench.cli.rounds."""
