"""Frameworks: one folder each (its network and its trainer), the contract in ``base``.

A framework YAML in ``conf/framework/`` names its class in ``_target_``; ``base.load`` imports
it. Nothing outside this package asks which framework a job runs.
"""

from nnbench.frameworks.base import Options, Trainer, load

__all__ = ["Options", "Trainer", "load"]
