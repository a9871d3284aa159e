"""Bad configurations are refused before any training, with a message naming the key."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import CONF
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nnbench import data
from nnbench.cli.one_line import one_line
from nnbench.errors import ConfigError
from nnbench.frameworks.base import load
from nnbench.job import FRAMEWORK_KEYS, resolve


def test_default_config_is_valid(make_cfg):
    dataset_cfg = resolve(make_cfg()).dataset
    assert dataset_cfg.name == "moons" and dataset_cfg.n_samples == 2000


@pytest.mark.parametrize(
    "overrides, names",
    [
        (["train.lr=-1"], ["train.lr", "> 0"]),
        (["train.lr=0"], ["train.lr"]),
        (["train.epochs=0"], ["train.epochs"]),
        (["train.batch_size=0"], ["train.batch_size"]),
        (["train.loss=hinge"], ["train.loss", "bce, cross_entropy, mse"]),
        (["train.init=xavier"], ["train.init", "he_normal"]),
        (["framework.name=jax"], ["framework.name='jax'", "'numpy'"]),
        (["+framework.compile=true"], ["framework.compile", "framework=numpy takes no options"]),
        (["device.name=tpu"], ["device.name", "cpu, cuda"]),
        (["precision.name=float8"], ["precision.name", "float32, float64, float16, bfloat16"]),
        (["framework=torch", "framework.compile_mode=fast"],
         ["framework.compile_mode='fast'", "default, reduce-overhead, max-autotune"]),
        (["precision.tf32=true"], ["precision.tf32=true", "torch on CUDA", "device=cpu"]),
        (["framework=torch", "device=cuda", "precision=float64", "precision.tf32=true"],
         ["precision.tf32=true", "precision=float64", "float32"]),
        (["arch.layer_sizes=[3,32,16,1]"], ["arch.layer_sizes[0]=3", "2 features"]),
        (["arch.layer_sizes=[2,32,16,3]"], ["arch.layer_sizes[-1]=3", "bce"]),
        (["arch.layer_sizes=[2]", "arch.activations=[]"], ["arch.layer_sizes"]),
        (["arch.layer_sizes=[2,0,1]", "arch.activations=[relu,sigmoid]"], ["arch.layer_sizes[1]"]),
        (["arch.activations=[relu,sigmoid]"], ["arch.activations", "one activation per layer"]),
        (["arch.activations=[relu,gelu,sigmoid]"], ["arch.activations[1]", "relu, sigmoid"]),
        (["arch.activations=[softmax,relu,sigmoid]"], ["arch.activations[0]"]),
        (["train.loss=cross_entropy"], ["train.loss", "softmax"]),
        (["arch=mlp_2x32x16x2"], ["train.loss='bce'", "sigmoid"]),
        (["arch=mlp_2x32x16x2", "train.loss=mse", "arch.layer_sizes=[2,32,16,1]"],
         ["arch.layer_sizes[-1]=1", "2"]),
        (["bench.warmup_epochs=2000"], ["bench.warmup_epochs", "0 to 1999"]),
        (["bench.repeats=0"], ["bench.repeats"]),
        (["dataset.noise=-0.1"], ["dataset.noise"]),
        (["dataset.test_size=1.5"], ["dataset.test_size"]),
        (["dataset.name=cifar"], ["dataset.name", "moons"]),
        (["dataset=mnist", "dataset.normalize=zscore"], ["dataset.normalize", "unit, symmetric"]),
        (["dataset=mnist", "dataset.n_train=5"], ["dataset.n_train=5", "10 to 60000"]),
        (["dataset=fashion_mnist", "dataset.n_test=20000"], ["dataset.n_test", "10 to 10000"]),
        (["dataset=mnist", "arch=mlp_2x32x16x1"], ["arch.layer_sizes[0]=2", "784 features"]),
        (["dataset=mnist", "dataset.n_train=abc"], ["dataset.n_train=abc is not a whole number"]),
        # keys the schema lacks, however they were appended
        (["+train.lrr=3"], ["train.lrr is not a configuration key", "epochs, batch_size, lr"]),
        (["++bench.foo=1"], ["bench.foo is not a configuration key", "warmup_epochs"]),
        (["+device.bar=1"], ["device.bar is not a configuration key", "has name"]),
        (["+precision.x=1"], ["precision.x", "name, tf32"]),
        (["+foo=1"], ["foo is not a configuration key", "arch, dataset, framework"]),
        (["+dataset.nois=0.3"], ["dataset.nois is not a configuration key", "dataset=moons",
                                 "noise"]),
        (["+framework.compile=1"], ["framework.compile is not a configuration key"]),
        # numbers that are not finite, in any float key
        (["train.lr=inf"], ["train.lr=inf is not a finite number"]),
        (["train.lr=nan"], ["train.lr=nan"]),
        (["bench.target_accuracy=nan"], ["bench.target_accuracy=nan"]),
        (["dataset.noise=1e309"], ["dataset.noise=inf"]),
        (["dataset.test_size=-inf"], ["dataset.test_size=-inf"]),
        # seeds numpy and scikit-learn cannot take
        (["train.seed=-1"], ["train.seed=-1", "0 to 4294967295"]),
        (["dataset.random_state=4294967296"], ["dataset.random_state"]),
        (["bench.gradient_check_seed=99999999999999999999"], ["bench.gradient_check_seed"]),
        (["train.seed=4294967295", "bench.repeats=2", "bench.vary_seed=true"],
         ["train.seed=4294967295", "bench.repeats=2"]),
        (["bench.threads=100000"], ["bench.threads=100000", "cores", "allowed: 1 to"]),
    ],
)
def test_invalid_values_and_combinations_name_the_key(make_cfg, overrides, names):
    with pytest.raises(ConfigError) as info:
        resolve(make_cfg(*overrides))
    message = str(info.value)
    assert "\n" not in message
    for name in names:
        assert name in message


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["framework=jax"], "framework=jax is not an option; allowed: numpy, textbook, torch"),
        (["trian.lr=0.1"], "trian.lr is not a configuration key"),
        (["train.lrr=0.1"], "train.lrr is not a configuration key"),
        (["framework.compile=true"], "framework.compile is not a configuration key"),
        (["train.epochs=many"], "train.epochs=many is not a whole number"),
        (["train.batch_size=[1]"], "train.batch_size"),
        (["experiment=scaling"], "experiment is a config group the defaults do not choose; "
                                 "add one with +experiment=NAME, NAME one of case_study_moons"),
        (["+precision=float64"], "+precision=float64: the configuration already has "
                                 "precision, + adds one it lacks; choose it with "
                                 "precision=float64"),
        (["train.lr=\N{SLIGHTLY SMILING FACE}"], "train.lr=\N{SLIGHTLY SMILING FACE} is not an "
                                                  "override Hydra can read"),
        (["bench="], "bench= is not an option; allowed: default"),
    ],
)
def test_composition_errors_become_one_line(make_cfg, overrides, expected):
    with pytest.raises((HydraException, OmegaConfBaseException)) as info:
        make_cfg(*overrides)
    line = one_line(info.value)
    assert "\n" not in line
    assert line.startswith(expected)


def test_each_dataset_brings_a_fitting_network_and_recipe(make_cfg):
    moons = make_cfg()
    assert list(moons.arch.layer_sizes) == [2, 32, 16, 1] and moons.train.batch_size is None
    fashion = make_cfg("dataset=fashion_mnist")
    assert list(fashion.arch.layer_sizes) == [784, 128, 10]
    assert fashion.train.loss == "cross_entropy" and fashion.train.batch_size == 64
    assert resolve(fashion).dataset.source_dir == "/usr/share/datasets/fashion-mnist"
    # an explicit choice still wins over the dataset's default
    assert make_cfg("dataset=mnist", "train=full_batch").train.batch_size is None


def test_unknown_dataset_key_is_refused(make_cfg):
    with pytest.raises(ConfigError, match=r"dataset.nois"):
        resolve(make_cfg("+dataset.nois=0.3"))



def _yaml(group: str, name: str) -> DictConfig:
    cfg = OmegaConf.load(CONF / group / f"{name}.yaml")
    assert isinstance(cfg, DictConfig)
    return cfg


@pytest.mark.parametrize("name", ["moons", "mnist", "fashion_mnist", "synthetic"])
def test_every_dataset_key_is_in_its_yaml_so_a_plain_override_can_set_it(name):
    cfg = _yaml("dataset", name)
    assert cfg._target_ == f"nnbench.data.{name}"  # datasets extend as frameworks do
    keys = set(cfg) - {"defaults", "_target_"}
    assert keys == {f.name for f in dataclasses.fields(data.module_of(cfg).Config)}


def test_every_dataset_module_of_the_package_has_its_yaml():
    assert data.builtin() == sorted(p.stem for p in (CONF / "dataset").glob("*.yaml"))


def test_a_dataset_defined_outside_the_package_is_named_by_its_target():
    cfg = OmegaConf.create({"name": "moons", "_target_": "nnbench.data.synthetic"})
    with pytest.raises(ConfigError, match="is not the name of its module"):
        data.checked_config(cfg)
    with pytest.raises(ConfigError, match="cannot be imported"):
        data.checked_config(OmegaConf.create({"name": "x", "_target_": "no.such.module"}))


@pytest.mark.parametrize("name", ["numpy", "torch", "textbook"])
def test_every_framework_option_is_in_its_yaml(name):
    cfg = _yaml("framework", name)
    options = load(str(cfg._target_)).Options
    assert set(cfg) == set(FRAMEWORK_KEYS) | {f.name for f in dataclasses.fields(options)}


def test_a_framework_target_naming_a_missing_class_says_the_module_lacks_it():
    # the module imports; only the class is missing, which is no error importing it
    with pytest.raises(ConfigError) as err:
        load("nnbench.frameworks.numpy.NoSuchTrainer")
    assert str(err.value) == ("framework._target_='nnbench.frameworks.numpy.NoSuchTrainer' "
                              "names no class: module nnbench.frameworks.numpy has no "
                              "'NoSuchTrainer'")
