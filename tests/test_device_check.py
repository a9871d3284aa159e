"""scripts/device_check.py: the GPU day's one command, proved here without a GPU.

The slow tests fetch the wheels a GPU run carries (from PyPI, into a temporary folder) and run
``check --dry-run`` for real: a venv over a stand-in for the machine's packages, the carried
wheels installed offline, the CUDA tests (skipped here), both sweeps on the CPU, the report, and
the files a run sends back. Without PyPI the dry run goes on with this interpreter's packages,
and only the test of the offline install is skipped. The fast tests check the step runner (a
failure or a timeout does not stop the next step) and the stand-in.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REPO

SCRIPT = REPO / "scripts" / "device_check.py"
STAMP = r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \+ *\d+\.\ds\]"
STEPS = ["host", "wheels", "venv", "install-wheels", "install-nnbench", "requirements",
         "pytest-cuda", "sweep-scaling", "sweep-case-study", "records", "report", "pack"]


def _load_script():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["device_check"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


dc = _load_script()


# --------------------------------------------------------------------------------------------
# fast: the parts


def test_a_failed_or_timed_out_step_does_not_stop_the_next(tmp_path: Path) -> None:
    log = dc.Log(tmp_path / "log")
    runner = dc.Runner(log, budget=6, env=dict(os.environ))

    def boom(step):
        raise RuntimeError("broken")

    steps = [
        dc.Step("fails", 10, 0, lambda s: [sys.executable, "-c", "import sys; sys.exit(3)"]),
        dc.Step("raises", 10, 0, boom),
        # the budget less the last step's reserve: about 4 s, then SIGINT
        dc.Step("hangs", 60, 0, lambda s: [sys.executable, "-c", "import time; time.sleep(60)"]),
        dc.Step("unreserved", 60, 0, lambda s: True),  # nothing left for it
        dc.Step("reserved", 60, 2, lambda s: True),
    ]
    t0 = time.monotonic()
    runner.run_steps(steps)
    assert time.monotonic() - t0 < 20
    assert [s.ok for s in steps] == [False, False, False, False, True]
    assert steps[0].detail == "exit status 3"
    assert steps[1].detail == "RuntimeError: broken"
    assert steps[2].detail.startswith("TIMED OUT after ")
    assert steps[3].detail == "not run: out of time"
    text = (tmp_path / "log").read_text()
    for n, step in enumerate(steps, 1):
        assert re.search(rf"^{STAMP} step {n}/5 {step.name}: ", text, re.M), text
    assert re.search(rf"^{STAMP} step 3/5 hangs: FAILED in .* \(TIMED OUT after", text, re.M)
    assert re.search(rf"^{STAMP} step 4/5 unreserved: SKIPPED", text, re.M)


def test_the_stand_in_for_the_machine_lacks_what_the_machine_lacks(tmp_path: Path) -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    hidden, _ = dc.machine_view(site, tmp_path / "view", set())
    assert {"hydra-core", "omegaconf", "pydantic", "submitit", "nnbench"} <= set(hidden)
    assert not {"numpy", "torch", "pytest", "pip"} & set(hidden)
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import numpy, pytest\n"
             "for name in ('hydra', 'omegaconf', 'pydantic', 'submitit'):\n"
             "    try:\n        __import__(name)\n    except ImportError:\n        continue\n"
             "    sys.exit(name + ' is in the stand-in')")
    got = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(tmp_path / "view")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert got.returncode == 0, got.stderr


def test_the_gpu_extra_is_cupy_for_the_cuda_of_the_locked_torch() -> None:
    import tomllib

    pins = dc.read_lock(REPO / "requirements" / "lock.txt")
    cuda_major = pins["nvidia-cuda-runtime"].split(".")[0]
    gpu = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["gpu"]
    assert [r for r in gpu if r.startswith("cupy-")] == [f"cupy-cuda{cuda_major}x>=14"]


# --------------------------------------------------------------------------------------------
# slow: the wheels and the dry run, for real


@dataclass
class Wheels:
    dest: Path | None
    output: str


@dataclass
class DryRun:
    returncode: int
    output: str
    out: Path
    seconds: float


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    dest = tmp_path_factory.mktemp("device-wheels")
    got = subprocess.run([sys.executable, str(SCRIPT), "wheels", "--dest", str(dest)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    return Wheels(dest if got.returncode == 0 else None, got.stdout + got.stderr)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory, wheels: Wheels) -> DryRun:
    root = tmp_path_factory.mktemp("device-check")
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    t0 = time.monotonic()
    got = subprocess.run([sys.executable, str(SCRIPT), "check", "--dry-run",
                          "--work", str(root / "work"), "--out", str(root / "out"),
                          "--wheels", str(wheels.dest or "")],
                         capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    return DryRun(got.returncode, got.stdout + got.stderr, root / "out", time.monotonic() - t0)


@pytest.mark.slow
def test_the_wheels_are_what_the_machine_lacks_and_all_they_need(wheels: Wheels) -> None:
    if wheels.dest is None:
        pytest.skip(f"the wheels could not be fetched (no PyPI?):\n{wheels.output[-2000:]}")
    assert re.search(r"device-wheels: \d+ wheels, [\d.]+ [KM]iB in .* \(well under", wheels.output)
    manifest = json.loads((wheels.dest / dc.MANIFEST).read_text())
    entries = {e["name"]: e for e in manifest["wheels"]}
    assert len(entries) == len(manifest["wheels"]) == len(list(wheels.dest.glob("*.whl")))
    assert {"hydra-core", "omegaconf", "antlr4-python3-runtime", "pydantic", "pydantic-core",
            "submitit", "hydra-submitit-launcher"} <= set(entries)
    assert not (set(entries) & dc.MACHINE_HAS) - dc.CARRY_ANYWAY
    pins = dc.read_lock(REPO / "requirements" / "lock.txt")
    from packaging.requirements import Requirement
    from packaging.utils import parse_wheel_filename

    total = 0
    for name, entry in entries.items():
        path = wheels.dest / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        total += path.stat().st_size
        assert entry["version"] == pins.get(name, entry["version"])
        tags = {str(t) for t in parse_wheel_filename(path.name)[3]}
        assert tags & {"py3-none-any", "cp312-cp312-manylinux_2_17_x86_64"}, tags
        with zipfile.ZipFile(path) as zf:  # the wheel is whole
            assert zf.testzip() is None
        for text in dc.wheel_requirements(path):
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(dc.TARGET_ENV):
                need = dc.canon(req.name)
                assert need in entries or need in dc.MACHINE_HAS, f"{name} needs {req}"
                if need in entries:
                    assert req.specifier.contains(entries[need]["version"], prereleases=True)
    assert total < 16 * 2**20


@pytest.mark.slow
def test_the_dry_run_passes(dry_run: DryRun) -> None:
    assert dry_run.returncode == 0, dry_run.output[-6000:]
    assert re.search(rf"^{STAMP} device-check: {len(STEPS)}/{len(STEPS)} steps ok",
                     dry_run.output, re.M)


@pytest.mark.slow
def test_the_dry_run_sends_back_at_most_eight_plain_files(dry_run: DryRun) -> None:
    files = [p for p in dry_run.out.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"device-check.log", "pytest-cuda.xml", "records.tar.gz", "summary.md"} <= names
    assert any(n.endswith(".png") for n in names), names
    assert len(files) <= 8, names
    for p in files:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", p.name)
        assert len(p.relative_to(dry_run.out).parts) <= 3
        assert 0 < p.stat().st_size <= 16 * 2**20


@pytest.mark.slow
def test_the_log_has_a_timestamped_line_for_every_step(dry_run: DryRun) -> None:
    log = (dry_run.out / "device-check.log").read_text()
    for n, name in enumerate(STEPS, 1):
        assert re.search(rf"^{STAMP} step {n}/{len(STEPS)} {name}: start", log, re.M), name
        assert re.search(rf"^{STAMP} step {n}/{len(STEPS)} {name}: ok in", log, re.M), name


@pytest.mark.slow
def test_the_cuda_tests_report_in_junit_xml(dry_run: DryRun) -> None:
    root = ET.parse(dry_run.out / "pytest-cuda.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert int(suite.get("tests")) > 0
    assert int(suite.get("failures")) == int(suite.get("errors")) == 0
    cases = suite.findall("testcase")
    assert cases and all(c.get("classname", "").startswith("tests.test_cuda") for c in cases)


@pytest.mark.slow
def test_the_records_and_the_summary_hold_both_frameworks(dry_run: DryRun) -> None:
    summary = (dry_run.out / "summary.md").read_text()
    assert "numpy" in summary and "torch" in summary
    with tarfile.open(dry_run.out / "records.tar.gz") as tar:
        records = [json.load(tar.extractfile(m)) for m in tar.getmembers()
                   if m.name.endswith("/result.json")]
    assert {r["status"] for r in records} == {"ok"}
    assert {r["device"] for r in records} == {"cpu"}
    assert {r["framework"] for r in records} == {"numpy", "torch"}
    assert {r["experiment_name"] for r in records} == {"scaling", "case_study_moons"}


@pytest.mark.slow
def test_the_carried_wheels_were_installed_offline(wheels: Wheels, dry_run: DryRun) -> None:
    if wheels.dest is None:
        pytest.skip("the wheels could not be fetched (no PyPI?): the dry run used this "
                    "interpreter's packages")
    log = (dry_run.out / "device-check.log").read_text()
    assert "stand-in for the machine:" in log
    for name in ("hydra-core", "omegaconf", "pydantic", "hydra-submitit-launcher"):
        assert re.search(rf"^    \|   {name} +\S+ +carried +ok$", log, re.M), name
    for name in ("numpy", "torch"):
        assert re.search(rf"^    \|   {name} +\S+ +machine +ok$", log, re.M), name
