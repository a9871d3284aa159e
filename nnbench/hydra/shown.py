"""``--cfg``: Hydra prints the composed configuration and runs no job, so none of nnbench's
callbacks sees it. This resolves the same configuration as a run would (``ConfigCheck``), so
that a printout of a configuration a run would refuse says so, and the command exits 2.
"""

from __future__ import annotations

from omegaconf import DictConfig

from nnbench.cli.one_line import CONF_DIR, one_line
from nnbench.errors import ConfigError
from nnbench.hydra.callbacks import ConfigCheck, Refused


def _arguments(argv: list[str]) -> object | None:
    from hydra._internal.utils import get_args_parser

    try:
        return get_args_parser().parse_args(argv)
    except SystemExit:  # Hydra already said what is wrong with the command line
        return None


def asked(argv: list[str]) -> bool:
    """Whether the command line asks Hydra to print the configuration (``--cfg``)."""
    args = _arguments(argv)
    return bool(args is not None and getattr(args, "cfg", None))


def _composed(overrides: list[str]) -> DictConfig | None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=True)
    except Exception:  # noqa: BLE001 - a config Hydra could not compose was not printed either
        return None
    finally:
        GlobalHydra.instance().clear()


def refusal(argv: list[str]) -> str | None:
    """The one line a run of this command line (without ``--cfg``) would refuse its
    configuration with; None when a run would start."""
    args = _arguments(argv)
    cfg = _composed(list(getattr(args, "overrides", None) or [])) if args is not None else None
    if cfg is None:
        return None
    try:
        ConfigCheck().on_run_start(cfg)
    except Refused as refused:
        return str(refused.error)
    except ConfigError as err:
        return str(err)
    except Exception as err:  # noqa: BLE001 - whatever a run would stop on, in one line
        return one_line(err)
    return None
