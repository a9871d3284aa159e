"""nnbench's time per epoch against an independent clock: the same trainer, the same work.

For each network and framework, the trainer nnbench builds for the job is timed two ways,
interleaved in rounds in one process so that both see the same machine:

- nnbench: the job's own timed runs (``benchmark.measure``, the path every record takes), its
  ``train_time_per_epoch_s``;
- torch.utils.benchmark: ``Timer.blocked_autorange`` over ``train_epoch`` (one fixed batch
  order) and ``sync``, at the same thread count, its median per epoch.

Prints each round's ratio nnbench / torch.utils.benchmark and their median; 0.97-1.03 means the
two clocks agree within 3%.

    python scripts/crosscheck.py [--rounds 3] [--min-run-time 2]
"""

from __future__ import annotations

import argparse
import statistics

import torch
import torch.utils.benchmark as tub
from hydra import compose, initialize_config_dir

from nnbench import benchmark, data
from nnbench.api import CONF_DIR
from nnbench.hydra import register
from nnbench.job import resolve
from nnbench.measure.threads import limited
from nnbench.runner.local import trainer_factory

NETWORKS = {
    "moons 2x32x16x1": ["train.epochs=300"],
    "synthetic 784x256x128x10": ["dataset=synthetic", "dataset.n_features=784",
                                 "dataset.n_classes=10", "dataset.n_train=1000",
                                 "arch.layer_sizes=[784,256,128,10]",
                                 "arch.activations=[relu,relu,softmax]",
                                 "train.loss=cross_entropy", "train.epochs=60"],
}
QUIET = ["bench.mfu=false", "bench.memory_probe=false", "bench.isolate=false"]


def job_for(framework: str, overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"framework={framework}", *QUIET, *overrides])
    return resolve(cfg)


def nnbench_s(job, ds) -> float:
    measured = benchmark.measure(trainer_factory(job, job.trainer_class), ds, job.train,
                                 job.bench, job.spec.layer_sizes)
    return float(measured.timing.train_time_per_epoch_s)


def independent_s(job, ds, min_run_time: float) -> float:
    trainer = trainer_factory(job, job.trainer_class)(job.train.seed)
    trainer.set_train_data(ds.x_train, ds.y_train)
    order = next(benchmark.epoch_orders(job.train.seed, ds.x_train.shape[0], job.train.shuffle))
    timer = tub.Timer("trainer.train_epoch(order, batch_size); trainer.sync()",
                      globals={"trainer": trainer, "order": order,
                               "batch_size": job.train.batch_size},
                      num_threads=torch.get_num_threads())  # Timer's default is one thread
    return float(timer.blocked_autorange(min_run_time=min_run_time).median)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-run-time", type=float, default=2.0)
    args = parser.parse_args()
    register()
    for name, overrides in NETWORKS.items():
        for framework in ("numpy", "torch"):
            job = job_for(framework, overrides)
            ds = data.load(job.dataset)
            ratios = []
            with limited(job.bench.threads) as threads:
                for _ in range(args.rounds):
                    ours = nnbench_s(job, ds)
                    theirs = independent_s(job, ds, args.min_run_time)
                    ratios.append(ours / theirs)
                    print(f"  {name} {framework}: nnbench {ours * 1e3:.4f} ms, "
                          f"torch.utils.benchmark {theirs * 1e3:.4f} ms, "
                          f"ratio {ours / theirs:.3f}", flush=True)
            print(f"{name} {framework} ({threads} threads): median ratio "
                  f"{statistics.median(ratios):.3f} over {args.rounds} rounds "
                  f"[{min(ratios):.3f}, {max(ratios):.3f}]", flush=True)


if __name__ == "__main__":
    main()
