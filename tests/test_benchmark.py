"""``benchmark.measure`` with a fake trainer: no torch, no subprocess, no real training.

The fake records what the harness asked of it, so the tests can check the order of work, the
batches handed in, what is timed and what is left out, without depending on any clock.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnbench import benchmark, inference
from nnbench.config import BenchConfig, TrainConfig
from nnbench.data import Dataset
from nnbench.frameworks.base import Trainer
from nnbench.spec import ModelSpec

SPEC = ModelSpec((2, 4, 1), ("relu", "sigmoid"), "bce")
RNG = np.random.default_rng(0)
DS = Dataset("fake", RNG.standard_normal((10, 2)), np.arange(10) % 2,
             RNG.standard_normal((6, 2)), np.arange(6) % 2, ("a", "b"))


class Fake(Trainer):
    """Loss 1/epoch; a quarter more of the samples right each epoch; NaN from ``nan_at``."""

    name = "fake"
    calls: list = []
    nan_at: int | None = None

    @classmethod
    def matmul_kernel(cls, n, dtype, device, tf32):
        return (lambda: None), (lambda: None)

    def __init__(self, seed: int):
        super().__init__(SPEC, {}, "float32", "cpu", 0.1)
        self.seed, self.epoch = seed, 0
        Fake.calls.append(("build", seed))

    def set_train_data(self, x, y):
        Fake.calls.append(("data", len(x)))

    def train_epoch(self, perm, batch_size):
        self.epoch += 1
        Fake.calls.append(("epoch", None if perm is None else tuple(perm), batch_size))
        return math.nan if self.nan_at and self.epoch >= self.nan_at else 1.0 / self.epoch

    def prepare(self, x):
        return x

    def infer(self, prepared):
        return prepared

    def predict(self, x):
        Fake.calls.append(("predict", len(x)))
        right = min(len(x), int(len(x) * 0.25 * self.epoch))
        return np.where(np.arange(len(x)) < right, np.arange(len(x)) % 2, 1 - np.arange(len(x)) % 2)

    def numpy_params(self):
        return {}

    def warm_up(self, batch_sizes):
        Fake.calls.append(("warm_up", tuple(batch_sizes)))


def _cfgs(**bench):
    train = TrainConfig(epochs=5, batch_size=4, lr=0.1, loss="bce", shuffle=True, seed=3,
                        init="he_normal")
    defaults = dict(warmup_epochs=1, repeats=2, vary_seed=False, threads=None, isolate=False,
                    memory_probe=False, mfu=False, inference_batch_size=4,
                    target_accuracy=None, resume=False, allow_parallel=False,
                    gradient_check_seed=None, min_samples=0, rounds=1, round=0)
    return train, BenchConfig(**{**defaults, **bench})


@pytest.fixture(autouse=True)
def _fresh():
    Fake.calls, Fake.nan_at = [], None


def test_every_epoch_is_timed_and_warm_up_epochs_are_left_out_of_the_statistics():
    train, bench = _cfgs()
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    assert [len(times) for times in m.training.epoch_times_s] == [5, 5]
    assert m.timing.train_time_per_epoch_stats_s.n == 2 * (5 - 1)
    assert m.training.loss_history == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert m.accuracy.final_train_loss == pytest.approx(1 / 5)
    assert m.memory is None and m.compile_time_s is None
    assert m.inference is not None and m.inference.inference_batch_size == 4


def test_repeats_see_the_same_batches_and_a_fresh_permutation_every_epoch():
    train, bench = _cfgs()
    benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    epochs = [c for c in Fake.calls if c[0] == "epoch"]
    first, second, replay = epochs[:5], epochs[5:10], epochs[10:]
    assert first == second == replay  # same seed, same order: repeats are replicas
    assert len({c[1] for c in first}) == 5  # each epoch its own permutation
    assert all(sorted(c[1]) == list(range(10)) and c[2] == 4 for c in first)


def test_vary_seed_gives_each_repeat_its_own_start_and_order():
    train, bench = _cfgs(vary_seed=True)
    benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    # the two timed runs, then each one's untimed replay for its accuracy per epoch
    assert [c[1] for c in Fake.calls if c[0] == "build"] == [3, 4, 3, 4]
    epochs = [c for c in Fake.calls if c[0] == "epoch"]
    assert epochs[:5] != epochs[5:10]
    assert epochs[10:20] == epochs[:10]  # a replay is the same training, batch for batch


def test_divergence_is_a_value_and_stops_training_and_inference():
    Fake.nan_at = 3
    train, bench = _cfgs()
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    assert m.divergence is not None and m.divergence.epoch == 3
    assert "epoch 3" in m.divergence.reason
    assert len(m.training.epoch_times_s) == 1  # no second repeat after a divergence
    assert m.accuracy.test_accuracy is None and m.inference is None


def test_time_to_target_is_the_first_epoch_that_reaches_it():
    train, bench = _cfgs(target_accuracy=0.5)
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    assert m.target.epochs_to_target == 2  # 3 of 6 right at epoch 2
    assert m.target.target_reached_in_repeats == "2/2"


def test_compiling_trainers_compile_every_batch_shape_before_the_timed_runs():
    train, bench = _cfgs()
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes, compiles=True)
    assert Fake.calls[2] == ("warm_up", (4, 2))  # 10 samples: batches of 4 and a rest of 2
    assert m.compile_time_s is not None and m.compile_time_s >= 0


def test_memory_pass_runs_one_untimed_epoch_from_a_fresh_trainer():
    train, bench = _cfgs(memory_probe=True, repeats=1)
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    assert m.memory is not None and m.memory.peak_rss_mb > 0
    builds = [c for c in Fake.calls if c[0] == "build"]
    assert len(builds) == 4  # priming, memory pass, the timed run, its replay
    assert len(m.training.epoch_times_s[0]) == 5  # the untimed epochs are not in the samples


def _timing(epoch_times: list[float]):
    return benchmark.timing_figures([epoch_times], 0, 10, SPEC.layer_sizes, None)


def test_one_slow_epoch_among_many_raises_no_noise_warning_and_a_bimodal_run_does():
    from nnbench.bounds import Stats

    rng = np.random.default_rng(0)
    steady = list(0.46e-3 * np.exp(rng.normal(0, 0.02, 2000)))
    steady[500] = 36e-3  # one hiccup: a CV of ~160%, quartiles untouched
    timing, warnings = _timing(steady)
    assert timing.train_time_per_epoch_stats_s.cv > 1
    assert warnings == []
    stats = Stats.model_validate(timing.train_time_per_epoch_stats_s)
    assert stats.rel_iqr < 0.1 and stats.mad > 0
    assert timing.samples == {"train_time_per_epoch_s": 2000}
    two_speeds = list(np.where(rng.random(400) < 0.4, 90e-3, 46e-3)
                      * np.exp(rng.normal(0, 0.02, 400)))
    _, warnings = _timing(two_speeds)
    assert any(w.startswith("training epochs: bimodal: two clusters at") for w in warnings)


def test_few_timed_epochs_are_topped_up_with_repeats_to_min_samples():
    train, bench = _cfgs(repeats=1, min_samples=20)  # 5 epochs, 1 warm-up: 4 timed a repeat
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    assert len(m.training.epoch_times_s) == 5 and m.training.top_up_repeats == 4
    assert m.timing.samples["train_time_per_epoch_s"] == 20
    assert m.timing.train_time_per_epoch_stats_s.n == 20
    assert m.training.loss_history == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert m.target is None
    counts = m.timing.samples
    assert counts["inference_latency_batch1_s"] >= 100
    assert counts["inference_latency_per_sample_s"] >= inference.INFERENCE_MIN_CALLS


def test_test_accuracy_and_resource_counters_are_kept_per_epoch():
    train, bench = _cfgs(repeats=1)
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    # the fake gets a quarter more of the 6 test samples right each epoch
    assert m.training.test_accuracy_history == pytest.approx([1 / 6, 3 / 6, 4 / 6, 1, 1])
    counters = m.training.epoch_counters
    assert set(counters) == {"minor_faults", "major_faults", "voluntary_switches",
                             "involuntary_switches", "cpu_s"}
    assert all(len(v) == 5 and min(v) >= 0 for v in counters.values())
    summary = m.training.counters_per_epoch
    assert set(summary) == {*counters, "cpu_per_wall"} and summary["cpu_per_wall"] >= 0


def test_memory_probe_leaves_the_parameter_draw_out():
    mib = 2**20

    class Holding(Fake):
        def __init__(self, params):
            super().__init__(0)
            self.copy = params.astype(np.float32)  # the trainer's own copy: half the draw

    draws = []

    def draw(seed):
        draws.append(seed)
        return np.ones(mib)  # 8 MiB of float64, like the harness's init_params

    make = benchmark.TrainerFactory(draw=draw, build=Holding)
    train, bench = _cfgs(memory_probe=True, repeats=1)
    m = benchmark.measure(make, DS, train, bench, SPEC.layer_sizes)
    assert 3.9 < m.memory.peak_tracemalloc_mb < 4.5  # the float32 copy, not the draw
    assert "drawn before the probes started" in m.memory.memory_probe
    assert draws[:2] == [0, 0]  # priming, then the probe's start


def test_timed_epochs_run_back_to_back_and_accuracy_comes_from_a_replay_after_them():
    train, bench = _cfgs(repeats=2)
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    kinds = [c[0] for c in Fake.calls]
    timed = kinds[:kinds.index("build", 1)]  # the first build's run, up to the second build
    assert timed == ["build", "data"] + ["epoch"] * 5  # nothing between the timed epochs
    second = kinds.index("build", 1)
    assert kinds[second:second + 7] == ["build", "data"] + ["epoch"] * 5
    # one replay (same seed: the repeats are replicas), predicting after each epoch
    replay = kinds[second + 7:second + 7 + 2 + 10]
    assert replay == ["build", "data"] + ["epoch", "predict"] * 5
    assert m.training.test_accuracy_history == pytest.approx([1 / 6, 3 / 6, 4 / 6, 1, 1])
    assert m.training.test_accuracy_histories == [m.training.test_accuracy_history] * 2
    assert not any("replay" in w for w in m.warnings)


def test_without_accuracy_per_epoch_no_replay_runs_and_the_final_accuracy_stays():
    train, bench = _cfgs(repeats=2, vary_seed=True, accuracy_per_epoch=False)
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    assert [c[1] for c in Fake.calls if c[0] == "build"] == [3, 4]  # the timed runs alone
    assert sum(c[0] == "epoch" for c in Fake.calls) == 10  # 2 x 5 timed, none replayed
    assert m.training.test_accuracy_history == [] and m.training.test_accuracy_histories == [[], []]
    assert m.accuracy.test_accuracy == pytest.approx(1)  # 5 epochs: every test sample right
    assert [len(t) for t in m.training.epoch_times_s] == [5, 5]


def test_time_to_target_is_the_timed_runs_seconds_up_to_the_replays_epoch():
    train, bench = _cfgs(target_accuracy=0.5, vary_seed=True)
    m = benchmark.measure(Fake, DS, train, bench, SPEC.layer_sizes)
    per_repeat = m.target.time_to_target_per_repeat_s
    times = m.training.epoch_times_s
    assert per_repeat == pytest.approx([sum(times[0][:2]), sum(times[1][:2])])
    assert m.target.time_to_target_s == pytest.approx(float(np.median(per_repeat)))
    assert len(m.training.loss_histories) == len(m.training.test_accuracy_histories) == 2


def test_a_replay_that_is_not_the_same_training_is_said():
    class Drifting(Fake):
        replays = 0

        def __init__(self, seed):
            super().__init__(seed)
            Drifting.replays += 1
            self.offset = 0.0 if Drifting.replays == 1 else 0.01  # the second build drifts

        def train_epoch(self, perm, batch_size):
            return super().train_epoch(perm, batch_size) + self.offset

    train, bench = _cfgs(repeats=1)
    m = benchmark.measure(Drifting, DS, train, bench, SPEC.layer_sizes)
    assert any(w.startswith("accuracy per epoch comes from an untimed replay") for w in m.warnings)
