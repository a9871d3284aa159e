"""The SLURM launcher: submit a sweep through submitit, watch its jobs, and say how each ended.

``launcher`` (Hydra's submitit launcher with nnbench's additions), ``watch`` (the job-state
poller), ``ending`` (records for jobs SLURM ended), ``states`` (pending reasons and exit signals),
``script`` (the sbatch script a configuration gives). Every SLURM command the harness runs to
submit, watch or end jobs is here; the record's view of its own allocation is
``nnbench.measure.scheduler``'s.
"""
