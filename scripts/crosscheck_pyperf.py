"""pyperf's side of ``scripts/crosscheck.py``: one nnbench trainer timed by pyperf's workers.

Every worker process (pyperf spawns them, calibrates the loops and warms up) composes the job
from the overrides after ``--``, builds the trainer as the job does, and times ``loops`` epochs
of ``train_epoch`` (one fixed batch order) plus ``sync`` at the job's thread count.

    python scripts/crosscheck_pyperf.py --processes 6 -o out.json -- framework=torch ...
"""

from __future__ import annotations

import sys
import time

import pyperf

split = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
OVERRIDES, sys.argv = sys.argv[split + 1:], sys.argv[:split]


def build():
    from hydra import compose, initialize_config_dir
    from threadpoolctl import threadpool_limits

    from nnbench import benchmark, data
    from nnbench.api import CONF_DIR
    from nnbench.hydra import register
    from nnbench.job import resolve
    from nnbench.runner.local import trainer_factory

    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        job = resolve(compose("config", overrides=["bench.isolate=false", *OVERRIDES]))
    threads = job.bench.threads
    threadpool_limits(limits=threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    ds = data.load(job.dataset)
    trainer = trainer_factory(job, job.trainer_class)(job.train.seed)
    trainer.set_train_data(ds.x_train, ds.y_train)
    order = next(benchmark.epoch_orders(job.train.seed, ds.x_train.shape[0], job.train.shuffle))
    return trainer, order, job.train.batch_size


def epochs(loops: int) -> float:
    trainer, order, batch_size = STATE
    start = time.perf_counter()
    for _ in range(loops):
        trainer.train_epoch(order, batch_size)
    trainer.sync()
    return time.perf_counter() - start


def worker_args(cmd: list[str], _args) -> None:
    cmd.extend(["--", *OVERRIDES])  # each worker composes the same job


runner = pyperf.Runner(add_cmdline_args=worker_args)
runner.parse_args()
STATE = build() if runner.args.worker else None  # the manager process only spawns workers
runner.bench_time_func("nnbench trainer epoch", epochs)
