"""nnbench's SLURM launcher as a Hydra plugin (Hydra loads launchers only from hydra_plugins).

The code is in nnbench.slurm.launcher; this registers its config as ``hydra/launcher:
nnbench_slurm``, the base of conf/hydra/launcher/slurm.yaml. Without hydra-submitit-launcher
(the cluster extra) there is nothing to register, and Hydra's scan of its plugins stays quiet.
"""

from importlib.util import find_spec

if find_spec("hydra_plugins.hydra_submitit_launcher") is not None:
    from hydra.core.config_store import ConfigStore

    from nnbench.slurm.launcher import SlurmConf, SlurmSweepLauncher

    class SlurmLauncher(SlurmSweepLauncher):
        """``hydra/launcher=slurm``: see nnbench.slurm.launcher."""

    ConfigStore.instance().store(group="hydra/launcher", name="nnbench_slurm", node=SlurmConf,
                                 provider="nnbench")
