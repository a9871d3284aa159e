"""Each framework's BLAS and LAPACK as it calls them: torch's from torch's own build settings
(MKL here), NumPy's from threadpoolctl; a torch process loads NumPy's OpenBLAS too, and the
environment table once called that torch's."""

from __future__ import annotations

import re

import nnbench
from nnbench.frameworks.numpy import NumpyTrainer
from nnbench.frameworks.torch import TorchTrainer
from nnbench.frameworks.torch.libraries import build_settings
from nnbench.report.render.html import _environment
from nnbench.results.collect import Collection

SHRINK = ["train.epochs=3", "bench.warmup_epochs=1", "bench.mfu=false",
          "bench.memory_probe=false"]


def test_torchs_blas_is_what_torchs_build_settings_say():
    import torch

    text = torch.__config__.show()
    said = TorchTrainer.blas("cpu")
    settings = build_settings(text)
    assert said["blas"].split()[0] == settings["BLAS_INFO"]
    assert said["lapack"].split()[0] == settings["LAPACK_INFO"]
    if settings["BLAS_INFO"] == "mkl":  # its version as the MKL line of the same text says
        version = re.search(r"Math Kernel Library Version ([\w.]+)", text)[1]
        assert said["blas"] == f"mkl {version}"
        assert torch.backends.mkl.is_available()


def test_numpys_blas_is_the_one_threadpoolctl_finds_in_numpys_folder():
    from threadpoolctl import threadpool_info

    said = NumpyTrainer.blas("cpu")["blas"]
    loaded = {f"{i['internal_api']} {i['version']}" for i in threadpool_info()
              if i["user_api"] == "blas" and "numpy.libs" in i["filepath"]}
    assert said in loaded, (said, loaded)


def test_a_torch_job_records_torchs_blas_in_its_environment(tmp_path):
    rec = nnbench.run(["framework=torch", *SHRINK], runs_dir=tmp_path)
    assert rec.environment["framework_blas"] == TorchTrainer.blas("cpu")


def _record(framework: str, said: dict | None, threads: object) -> dict:
    env = {"hostname": "h", "threads": threads, "python": "3.11",
           "blas": [{"internal_api": "openblas", "version": "0.3.31",  # NumPy's, in any process
                     "filepath": "/v/site-packages/numpy.libs/libscipy_openblas64_.so"}]}
    if said:
        env["framework_blas"] = said
    return {"framework": framework, "environment": env, "status": "ok"}


def test_the_environment_table_shows_each_frameworks_own_blas_and_whole_threads():
    records = [_record("numpy", NumpyTrainer.blas("cpu"), 2),
               _record("torch", {"blas": "mkl 2024.2", "lapack": "mkl 2024.2"}, None),
               _record("torch", None, 1.0)]  # an older record: it did not say
    records[1]["threads"] = 2
    table = _environment(Collection(records=records)).set_index("framework")
    assert list(table.loc["torch", "BLAS it calls"]) == ["mkl 2024.2", "not recorded"]
    assert "openblas" in table.loc["numpy", "BLAS it calls"]
    assert list(table["threads"]) == ["2", "2", "1"]  # every row, as a count
