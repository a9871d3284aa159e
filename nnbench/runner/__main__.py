"""``python -m nnbench.runner OUTPUT_DIR PARALLEL_JOBS PARENT_PID``: one job whose resolved
configuration comes as JSON on stdin, run in this interpreter and recorded in OUTPUT_DIR.

How a job of ``bench.python`` runs (``nnbench.runner.elsewhere`` starts it): this process is
already the fresh one, so the job runs here, as a job forked from a warm process does. Exit
status: 0 once the record is written, whatever the job's status; 130 after Ctrl-C (no record:
the folder is incomplete and a resume runs the job again); 1 when no record could be made; 75
(``salvage.PRINTED_EXIT``) when no folder took the record and it was printed on stdout.
"""

from __future__ import annotations

import json
import signal
import sys
import time

from omegaconf import OmegaConf

from nnbench import environments, runner
from nnbench.runner import local, salvage
from nnbench.runner.warm import SCHEDULER_SIGNALS, die_with_parent


def main(argv: list[str]) -> int:
    output_dir, parallel_jobs, parent = argv[0], int(argv[1]), int(argv[2])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for scheduler_signal in SCHEDULER_SIGNALS:  # the command acts on them, not its jobs
        signal.signal(scheduler_signal, signal.SIG_IGN)
    die_with_parent(parent)
    config = json.loads(sys.stdin.read())
    environments.i_am(config["bench"]["python"])  # its check asks no second interpreter
    try:
        cfg = OmegaConf.create(config)
        job = runner.resolved(cfg, output_dir)
        if isinstance(job, dict):  # it did not resolve here: its record says why
            return 0
        if job.fault:
            fields = local.head_fields(job, parallel_jobs)
            fields.update(status="failed", error_type="FrameworkError", reason=job.fault)
            local.finish(fields, time.time(), output_dir)
        else:
            local.run_job(job, output_dir, parallel_jobs)
    except KeyboardInterrupt:
        return 130
    return salvage.exit_status()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
