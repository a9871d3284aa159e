"""The first GPU day in one command: every CUDA path of nnbench, proved in a few minutes.

A lent GPU machine has its own Python 3.12 with torch, CuPy, NumPy, pandas and pytest, reaches no
package registry, and lacks what nnbench adds on top (Hydra, OmegaConf, pydantic, submitit).
So the work is split in two:

    make device-wheels            # here, with PyPI: python scripts/device_check.py wheels
    python3 scripts/device_check.py   # there, carrying .device-wheels (make device-check)
    make device-check DRY_RUN=1   # here: all of it but CUDA (device_check.py check --dry-run)

``wheels`` walks nnbench's requirements (the project's, the cluster extra's, the tests'),
carries every distribution that the machine's package list lacks, with whatever those need in
turn, at the versions requirements/lock.txt pins, as CPython 3.12 manylinux x86-64 wheels (an
sdist-only one, antlr4's runtime, is built into a pure wheel here), and writes manifest.json
beside them: file, version, sha256, who needs it, and what it relies on the machine for.

``check`` makes a venv over the machine's own packages, installs the carried wheels offline and
nnbench without dependencies, checks every requirement and import of the CUDA path, then runs
the CUDA tests (junit XML), one CUDA sweep of the scaling experiment and of the case study
(numpy and torch, cpu and cuda, one round, epochs cut to fit) and the report over them, within
one wall-time budget (8 minutes). Each step has its own time limit, is logged with a timestamp
when it starts and ends, and a failed or timed-out one does not stop the next; the exit status
is non-zero if any failed. $OUT receives at most 8 files: the log and the junit XML as they are
written, then the records (a tarball), summary.md, results.csv and two figures.

The venv does not use ``venv --system-site-packages``: there, ``python3`` is itself a venv
(/opt/torch/.venv), whose packages the base interpreter's site-packages do not hold. The new venv
instead adds, by a .pth file, every site-packages directory of the interpreter running this
script, in the same order, so it sees what ``python3`` sees and carried wheels shadow nothing
but what they replace. --dry-run stands in for the machine with a view of this interpreter's
site-packages that holds only the packages on the machine's list (and what they need): the
carried wheels must make up the rest, as they will there.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WHEELS = Path(".device-wheels")
MANIFEST = "manifest.json"
WORK = Path(".device-check")
# What `run` can carry: 64 MiB for the working tree and the carried folders together.
CARRY_LIMIT = 64 * 2**20
# What comes back from $OUT: 8 files of at most 16 MiB.
OUT_FILES, OUT_FILE_BYTES = 8, 16 * 2**20
BUDGET_S = 480.0

# The GPU machine: CPython 3.12.3 on x86-64 Linux; the platform tags are the device notes' own.
TARGET_PYTHON = "3.12"
TARGET_PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                    "manylinux2014_x86_64", "manylinux1_x86_64"]
TARGET = ["--python-version", TARGET_PYTHON, "--implementation", "cp",
          *(arg for p in TARGET_PLATFORMS for arg in ("--platform", p))]
TARGET_ENV = {"implementation_name": "cpython", "implementation_version": "3.12.3",
              "os_name": "posix", "platform_machine": "x86_64",
              "platform_python_implementation": "CPython", "platform_release": "",
              "platform_system": "Linux", "platform_version": "", "python_full_version": "3.12.3",
              "python_version": TARGET_PYTHON, "sys_platform": "linux", "extra": ""}
# The machine's Python packages, as the workplace's description of nvidia-h200 lists them
# (read 2026-11-17; versions seen: torch 2.11.0, numpy 2.5.2, cupy-cuda13x 14.2.0).
MACHINE_HAS = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch
build certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage
cuda-bindings cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn
einops equinox etils execnet filelock flatbuffers flax fonttools formulaic frozenlist fsspec
gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna imageio
iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib
kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown
markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict
multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro
nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13
nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir
onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker
prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing
pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout
pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers
setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope
triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt
xarray xxhash yarl zipp
""".split())
# On the machine, but at a version nobody has read, and pydantic needs a recent one: carried all
# the same when a carried wheel needs it; pip takes it there only if the machine's is too old.
CARRY_ANYWAY = frozenset({"typing-extensions"})
# What the CUDA tests need beyond nnbench's own requirements (from the dev extra).
TEST_NEEDS = ("pytest", "hypothesis", "pyyaml")


def canon(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pins[canon(name)] = version.strip()
    return pins


def project_requirements(pyproject: Path, extras: Sequence[str]) -> list[str]:
    import tomllib

    project = tomllib.loads(pyproject.read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return reqs


def wheel_requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
        metadata = Parser().parsestr(zf.read(name).decode())
    return metadata.get_all("Requires-Dist") or []


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def size(n: float) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


# ---------------------------------------------------------------------------------------------
# wheels: here, with PyPI


def _pip_fetch(name: str, spec: str, into: Path) -> Path:
    """One wheel of ``name`` for the GPU machine into ``into``: a binary from the index, else
    the sdist built here into a wheel, which must then be pure Python."""
    before = set(into.iterdir())
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    got = subprocess.run([*pip, "download", "--quiet", "--no-deps", "--only-binary=:all:",
                          *TARGET, "-d", str(into), f"{name}{spec}"],
                         capture_output=True, text=True)
    if got.returncode != 0:
        print(f"  {name}{spec}: no wheel for CPython {TARGET_PYTHON} on the index; "
              "building one from the sdist")
        built = subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "-w", str(into),
                                f"{name}{spec}"], capture_output=True, text=True)
        if built.returncode != 0:
            sys.exit(f"device-wheels: {name}{spec}: neither a wheel nor a build:\n"
                     f"{got.stderr}\n{built.stderr}")
    new = [p for p in set(into.iterdir()) - before if p.suffix == ".whl"]
    if len(new) != 1:
        sys.exit(f"device-wheels: {name}{spec}: expected one new wheel, got {new}")
    wheel = new[0]
    if got.returncode != 0 and not wheel.name.endswith("-none-any.whl"):
        sys.exit(f"device-wheels: {wheel.name} was built for this host, not the GPU machine")
    return wheel


def make_wheels(dest: Path, lock: Path, pyproject: Path) -> dict:
    """Fetch into ``dest`` every distribution nnbench needs that the machine lacks."""
    from packaging.requirements import Requirement

    pins = read_lock(lock)
    dest.mkdir(parents=True, exist_ok=True)
    wanted = [(r, "nnbench") for r in project_requirements(pyproject, ["cluster"])]
    wanted += [(r, "tests") for r in TEST_NEEDS]
    carried: dict[str, dict] = {}
    provided: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="device-wheels-") as tmp:
        while wanted:
            req_text, needed_by = wanted.pop(0)
            req = Requirement(req_text)
            if req.marker is not None and not req.marker.evaluate(TARGET_ENV):
                continue
            name = canon(req.name)
            if name in MACHINE_HAS and not (name in CARRY_ANYWAY and needed_by in carried):
                provided.setdefault(name, set()).add(needed_by)
                continue
            entry = carried.get(name)
            if entry is None:
                version = pins.get(name)
                spec = f"=={version}" if version else str(req.specifier)
                wheel = _pip_fetch(name, spec, Path(tmp))
                version = wheel.name.split("-")[1]
                entry = carried[name] = {"name": name, "version": version, "file": wheel.name,
                                         "needed_by": [], "direct": False, "_path": wheel}
                wanted += [(r, name) for r in wheel_requirements(wheel)]
            entry["needed_by"] = sorted({*entry["needed_by"], needed_by})
            entry["direct"] = entry["direct"] or needed_by == "nnbench"
            if not req.specifier.contains(entry["version"], prereleases=True):
                sys.exit(f"device-wheels: {needed_by} needs {req}, the lock pins "
                         f"{name}=={entry['version']}")
        keep = {e["file"] for e in carried.values()}
        for old in dest.glob("*.whl"):  # an earlier lock's wheels: two versions stop installs
            if old.name not in keep:
                old.unlink()
        for entry in carried.values():
            path = entry.pop("_path")
            shutil.move(str(path), dest / entry["file"])
            entry["sha256"] = sha256(dest / entry["file"])
            entry["bytes"] = (dest / entry["file"]).stat().st_size
    manifest = {
        "made": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": f"CPython {TARGET_PYTHON}, {TARGET_PLATFORMS[0]}",
        "lock": str(lock),
        "wheels": sorted(carried.values(), key=lambda e: e["name"]),
        "machine_provides": {k: sorted(v) for k, v in sorted(provided.items())},
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    # pip's word that each wheel installs on the machine's Python (their needs are checked above)
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "install",
                    "--quiet", "--dry-run", "--ignore-installed", "--no-deps", "--no-index",
                    "--only-binary=:all:", *TARGET, "--find-links", str(dest),
                    *(f"{e['name']}=={e['version']}" for e in manifest["wheels"])], check=True)
    return manifest


def cmd_wheels(args: argparse.Namespace) -> int:
    dest = Path(args.dest)
    manifest = make_wheels(dest, Path(args.lock), REPO / "pyproject.toml")
    total = 0
    for entry in manifest["wheels"]:
        total += entry["bytes"]
        why = "nnbench" if entry["direct"] else "for " + ", ".join(entry["needed_by"])
        print(f"  {entry['file']:<60} {size(entry['bytes']):>8}  {why}")
    print(f"  the machine provides: {', '.join(manifest['machine_provides'])}")
    verdict = "well under" if total < CARRY_LIMIT / 4 else "NOT well under"
    print(f"device-wheels: {len(manifest['wheels'])} wheels, {size(total)} in {dest}/ "
          f"({verdict} the {size(CARRY_LIMIT)} a run carries); carry it: {dest}")
    return 0 if total < CARRY_LIMIT else 1


# ---------------------------------------------------------------------------------------------
# check: there (and here with --dry-run)


class Log:
    """Timestamped lines to stdout and to a file that is flushed line by line."""

    def __init__(self, path: Path):
        self.start = time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("a", buffering=1)
        self.lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def __call__(self, message: str) -> None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.raw(f"[{stamp} +{self.elapsed():6.1f}s] {message}")

    def raw(self, line: str) -> None:
        with self.lock:
            print(line, flush=True)
            self.file.write(line + "\n")


@dataclass
class Step:
    name: str
    timeout: float
    # seconds kept back for this step whatever the steps before it take
    reserve: float
    action: Callable[[Step], Sequence[str] | bool | None]
    ok: bool | None = None
    detail: str = ""
    seconds: float = 0.0


class Runner:
    def __init__(self, log: Log, budget: float, env: dict[str, str]):
        self.log, self.budget, self.env = log, budget, env
        self.current_limit = 0.0

    def run_steps(self, steps: list[Step]) -> list[Step]:
        for i, step in enumerate(steps):
            # what the budget leaves after the reserves of the steps to come; a reserved step gets
            # its reserve even when the steps before it overran
            left = self.budget - self.log.elapsed() - sum(s.reserve for s in steps[i + 1:])
            limit = min(step.timeout, max(left, step.reserve))
            tag = f"step {i + 1}/{len(steps)} {step.name}"
            if limit < (1 if step.reserve else 3):  # too little to start it in
                step.ok, step.detail = False, "not run: out of time"
                self.log(f"{tag}: SKIPPED, {self.budget - self.log.elapsed():.0f} s left in "
                         "the budget")
                continue
            self.log(f"{tag}: start (limit {limit:.0f} s)")
            t0 = time.monotonic()
            self.current_limit = limit
            try:
                result = step.action(step)
                if result is None or isinstance(result, bool):
                    step.ok = result is not False
                else:
                    step.ok = self.command(list(result), limit, step)
            except Exception as err:  # noqa: BLE001 - one broken step must not stop the rest
                step.ok, step.detail = False, f"{type(err).__name__}: {err}"
            step.seconds = time.monotonic() - t0
            word = "ok" if step.ok else "FAILED"
            self.log(f"{tag}: {word} in {step.seconds:.1f} s"
                     + (f" ({step.detail})" if step.detail else ""))
        return steps

    def command(self, cmd: list[str], limit: float, step: Step) -> bool:
        """Run ``cmd`` in a session of its own, its output into the log; at the limit, SIGINT
        (pytest still writes its junit XML), then SIGTERM, then SIGKILL to the whole group."""
        shown = " ".join(a if len(a) < 200 else a[:40].split("\n")[0] + "..." for a in cmd)
        self.log.raw(f"    $ {shown}")
        proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", start_new_session=True)

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.log.raw("    | " + line.rstrip("\n"))

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            rc = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            for sig, grace in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            reader.join(timeout=5)
            step.detail = f"TIMED OUT after {limit:.0f} s"
            return False
        reader.join(timeout=5)
        if rc != 0:
            step.detail = f"exit status {rc}"
        return rc == 0


def host_compatible(wheel_file: str) -> bool:
    from packaging.tags import sys_tags
    from packaging.utils import parse_wheel_filename

    tags = set(sys_tags())
    return any(t in tags for t in parse_wheel_filename(wheel_file)[3])


def machine_sites() -> list[Path]:
    """Every site-packages directory of this interpreter, in sys.path's order."""
    seen: list[Path] = []
    for entry in sys.path:
        p = Path(entry)
        if p.name in ("site-packages", "dist-packages") and p.is_dir() and p not in seen:
            seen.append(p)
    return seen


def machine_view(site: Path, view: Path, keep_anyway: set[str]) -> tuple[list[str], list[str]]:
    """A copy of ``site`` made of symlinks that holds only the distributions on the GPU
    machine's list, what they need, and ``keep_anyway``; returns (hidden, kept off the list)."""
    from importlib.metadata import distributions

    from packaging.requirements import Requirement

    installed = {canon(d.metadata["Name"]): d for d in distributions(path=[str(site)])}
    keep: set[str] = set()
    stack = [n for n in installed if n in MACHINE_HAS or n in keep_anyway]
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep.add(name)
        for text in installed[name].requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                if canon(req.name) in installed:
                    stack.append(canon(req.name))
    keep.discard("nnbench")  # installed from the working tree, as there
    hidden = sorted(set(installed) - keep)
    hidden_files: set[Path] = set()
    for name in hidden:
        for f in installed[name].files or []:
            if ".." not in Path(f).parts:
                hidden_files.add(Path(f))
    hidden_dirs = {p for f in hidden_files for p in f.parents}

    def own_files(rel: Path) -> list[Path]:
        return [Path(root, f).relative_to(site) for root, dirs, files in os.walk(site / rel)
                for f in files if "__pycache__" not in Path(root).parts]

    def link(rel: Path) -> None:
        for entry in sorted((site / rel).iterdir()):
            sub = rel / entry.name
            if sub in hidden_files or entry.name == "__pycache__" and rel != Path("."):
                continue
            if sub not in hidden_dirs:
                (view / sub).symlink_to(entry)
            elif any(f not in hidden_files for f in own_files(sub)):
                (view / sub).mkdir()
                link(sub)

    view.mkdir(parents=True)
    link(Path("."))
    return hidden, sorted(keep - MACHINE_HAS)


REQUIREMENTS_CHECK = r"""
import importlib, importlib.metadata as md, json, sys, tomllib
from packaging.requirements import Requirement
extras, modules = json.loads(sys.argv[1])
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
reqs = project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]
bad = []
for req in map(Requirement, reqs):
    try:
        dist = md.distribution(req.name)
    except md.PackageNotFoundError:
        bad.append(f"{req}: not installed"); continue
    ok = req.specifier.contains(dist.version, prereleases=True)
    where = "carried" if str(dist.locate_file("")).startswith(sys.prefix) else "machine"
    print(f"  {req.name:<26} {dist.version:<14} {where:<8} {'ok' if ok else 'NOT ' + str(req)}")
    if not ok:
        bad.append(f"{req}: {dist.version} installed")
for name in modules:
    try:
        module = importlib.import_module(name)
        print(f"  import {name}: {getattr(module, '__file__', None) or 'namespace'}")
    except Exception as err:
        bad.append(f"import {name}: {type(err).__name__}: {err}")
import numpy, torch
print(f"  numpy {numpy.__version__}; torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"cuda available: {torch.cuda.is_available()}"
      + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))
if "cupy" in modules and "cupy" in sys.modules:
    cupy = sys.modules["cupy"]
    print(f"  cupy {cupy.__version__}: {cupy.cuda.runtime.getDeviceCount()} device(s), "
          f"CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}")
if "cupy" in modules and not torch.cuda.is_available():
    bad.append("torch sees no CUDA device")
for line in bad:
    print("  MISSING: " + line)
sys.exit(1 if bad else 0)
"""
# What nnbench's CUDA path imports, and what its tests and sweeps load through Hydra.
MODULES = ["nnbench", "nnbench.__main__", "nnbench.frameworks.numpy.trainer",
           "nnbench.frameworks.torch.trainer", "nnbench.report.__main__",
           "hydra_plugins.nnbench_sweeper", "hydra_plugins.nnbench_launcher",
           "hydra_plugins.hydra_submitit_launcher.submitit_launcher",
           "hydra_plugins.hydra_joblib_launcher.joblib_launcher"]


def records_table(runs: Path) -> tuple[list[str], list[str]]:
    """One line per record (what the GPU day has to report), and each record's status."""
    rows, statuses = [], []
    for path in sorted(runs.rglob("result.json")):
        try:
            r = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            rows.append(f"  {path}: unreadable ({err})")
            statuses.append("unreadable")
            continue
        statuses.append(str(r.get("status")))
        t, mfu = r.get("train_time_per_epoch_s"), r.get("mfu")
        rows.append(
            f"  {r.get('experiment_name', '?'):<17} {r.get('arch', '?'):<24} "
            f"{r.get('framework', '?'):<6} {r.get('device', '?'):<5} {r.get('precision', '?'):<8}"
            f" {r.get('status', '?'):<8} {f'{t:.3e} s/epoch' if t else '':<17}"
            f" {f'mfu {mfu:.3f}' if mfu is not None else ''}"
            + (f"  {r.get('reason')}" if r.get("status") != "ok" else ""))
    return rows, statuses


def cmd_check(args: argparse.Namespace) -> int:
    dry = args.dry_run
    work = Path(args.work).resolve()
    out = Path(args.out or os.environ.get("OUT") or work / "out").resolve()
    wheels = Path(args.wheels).resolve() if args.wheels else None
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "device-check.log")
    venv, runs, report = work / "venv", work / "runs", work / "report"
    py = str(venv / "bin" / "python")
    junit = out / "pytest-cuda.xml"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONUNBUFFERED"] = "1"
    # pip reads no configuration: no index or find-links of this host's may stand in for a wheel
    env["PIP_CONFIG_FILE"] = os.devnull
    devices = "cpu" if dry else "cpu,cuda"
    log(f"device-check{' --dry-run' if dry else ''}: {REPO} -> $OUT={out}, budget "
        f"{args.budget:.0f} s; python {sys.version.split()[0]} at {sys.executable}")
    if os.environ.get("PYTHONPATH"):
        log(f"PYTHONPATH={os.environ['PYTHONPATH']} is left out of the venv's processes")
    manifest: dict = {}
    to_install: list[str] = []
    keep_anyway: set[str] = set()

    def host(step: Step) -> Sequence[str] | bool:
        if dry:
            log.raw(f"    dry run: no CUDA; devices {devices}")
            return True
        if shutil.which("nvidia-smi") is None:
            step.detail = "no nvidia-smi on this host"
            return False
        return ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.sm,"
                "clocks.mem,temperature.gpu,utilization.gpu", "--format=csv"]

    def verify_wheels(step: Step) -> bool:
        nonlocal manifest
        if wheels is None:
            step.detail = "no wheels: nnbench's requirements must all be on this machine"
            return True
        if not (wheels / MANIFEST).is_file():
            step.detail = (f"no {wheels / MANIFEST}: run make device-wheels where PyPI is "
                           f"reachable, and carry {WHEELS}")
            return False
        manifest = json.loads((wheels / MANIFEST).read_text())
        bad = []
        for entry in manifest["wheels"]:
            path = wheels / entry["file"]
            if not path.is_file() or sha256(path) != entry["sha256"]:
                bad.append(entry["file"])
                continue
            if not host_compatible(entry["file"]):
                if not dry:  # there, nothing else can stand in for it
                    bad.append(f"{entry['file']} (not for this Python)")
                    continue
                keep_anyway.add(entry["name"])
                log.raw(f"    {entry['file']}: not for this interpreter; {entry['name']} comes "
                        "from this host's packages instead")
            elif entry["direct"]:
                to_install.append(f"{entry['name']}=={entry['version']}")
        total = sum(e["bytes"] for e in manifest["wheels"])
        log.raw(f"    {len(manifest['wheels'])} wheels, {size(total)}, made {manifest['made']}")
        if bad:
            step.detail = "missing or corrupt: " + ", ".join(bad)
        return not bad

    def make_venv(step: Step) -> bool:
        sites = machine_sites()
        if dry:
            own = Path(sysconfig.get_paths()["purelib"])
            view = work / "machine-site"
            if wheels is None:  # nothing to make up for what the machine lacks: keep it all
                from importlib.metadata import distributions

                keep_anyway.update(canon(d.metadata["Name"])
                                   for d in distributions(path=[str(own)]))
                log.raw("    no wheels: the stand-in keeps every package of this interpreter")
            hidden, extra = machine_view(own, view, keep_anyway)
            log.raw(f"    stand-in for the machine: {own} without {', '.join(hidden)}")
            if extra:
                log.raw(f"    kept though not on the machine's list (needed by what is): "
                        f"{', '.join(extra)}")
            sites = [view if s == own else s for s in sites]
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        lines = [f"import site; site.addsitedir({str(s)!r})" for s in sites]
        Path(venv_purelib(), "00-machine-site.pth").write_text("\n".join(lines) + "\n")
        for s in sites:
            log.raw(f"    machine packages: {s}")
        return True

    def venv_purelib() -> Path:
        return Path(subprocess.run([py, "-c", "import sysconfig; "
                                    "print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())

    def install_wheels(step: Step) -> bool:
        if wheels is None or not to_install:
            return True
        cmd = [py, "-m", "pip", "install", "--disable-pip-version-check", "--no-index",
               "--no-cache-dir", "--find-links", str(wheels), *to_install]
        if runner.command(cmd, runner.current_limit, step):
            return True
        # pip failed (none on this machine?): unpack the wheels the machine lacks, as pip would
        # have, so that the steps after this one still run; the step stays failed
        unpacked = []
        for entry in manifest["wheels"]:
            if entry["name"] not in MACHINE_HAS and entry["name"] not in keep_anyway:
                with zipfile.ZipFile(wheels / entry["file"]) as zf:
                    zf.extractall(venv_purelib())
                unpacked.append(entry["name"])
        step.detail += f"; unpacked by hand instead: {', '.join(unpacked)}"
        return False

    def install_nnbench(step: Step) -> bool:
        cmd = [py, "-m", "pip", "install", "--disable-pip-version-check", "--no-index",
               "--no-deps", "--no-build-isolation", "-e", str(REPO)]
        if runner.command(cmd, runner.current_limit, step):
            return True
        # pip could not build the editable install offline (no setuptools?): the same, by hand
        Path(venv_purelib(), "nnbench-worktree.pth").write_text(str(REPO) + "\n")
        step.detail = f"pip failed ({step.detail}): {REPO} put on sys.path by a .pth instead"
        return True

    def requirements(step: Step) -> Sequence[str]:
        extras = ["cluster"] + ([] if dry else ["gpu"])
        modules = MODULES + ([] if dry else ["cupy"])
        return [py, "-c", REQUIREMENTS_CHECK, json.dumps([extras, modules])]

    def pytest_cuda(step: Step) -> Sequence[str]:
        has_timeout = subprocess.run([py, "-c", "import pytest_timeout"], env=env,
                                     capture_output=True).returncode == 0
        return [py, "-m", "pytest", "-m", "cuda", "-v", "-rs", "-p", "no:cacheprovider",
                "--continue-on-collection-errors", f"--junitxml={junit}",
                *(["--timeout=120"] if has_timeout else [])]

    def sweep(experiment: str, overrides: list[str]) -> Callable[[Step], Sequence[str]]:
        return lambda step: [py, "-m", "nnbench", "-m", f"+experiment={experiment}",
                             f"runs_dir={runs}", f"device={devices}", "bench.rounds=1",
                             *overrides]

    def show_records(step: Step) -> bool:
        rows, statuses = records_table(runs)
        for row in rows:
            log.raw(row)
        step.detail = f"{len(rows)} records: " + ", ".join(
            f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
        return bool(rows)

    def pack(step: Step) -> bool:
        freeze = subprocess.run([py, "-m", "pip", "freeze", "--disable-pip-version-check"],
                                env=env, capture_output=True, text=True).stdout
        (work / "pip-freeze.txt").write_text(freeze)
        with tarfile.open(out / "records.tar.gz", "w:gz") as tar:
            for part in (runs, report, work / "pip-freeze.txt", out / "device-check.log"):
                if part.exists():
                    tar.add(part, arcname=f"device-check/{part.name}")
        copied = []
        for name in ("summary.md", "results.csv", "scaling.png", "comparison_summary.png"):
            if (report / name).is_file():
                shutil.copy2(report / name, out / name)
                copied.append(name)
        step.detail = "records.tar.gz" + "".join(", " + n for n in copied)
        return "summary.md" in copied

    # Epochs cut to fit: the scaling experiment times one epoch after one warm-up as it is; the
    # case study's 2,000 epochs become 500 there. Here (no CUDA), the smallest jobs that still
    # give both frameworks, two architectures and a report, without the matmul peak (MFU), whose
    # calibration would take longer than the jobs on a fresh cache.
    quick = ["bench.min_samples=0", "bench.mfu=false"]
    cut = [] if not dry else ["+scale=s2x32x16x1,s784x256x128x10", *quick]
    steps = [
        Step("host", 20, 0, host),
        Step("wheels", 30, 0, verify_wheels),
        Step("venv", 60, 0, make_venv),
        Step("install-wheels", 90, 0, install_wheels),
        Step("install-nnbench", 90, 0, install_nnbench),
        Step("requirements", 90, 0, requirements),
        Step("pytest-cuda", 180, 0, pytest_cuda),
        Step("sweep-scaling", 200, 30, sweep("scaling", cut)),
        Step("sweep-case-study", 120, 20, sweep("case_study_moons", [
            f"train.epochs={20 if dry else 500}",
            *(["precision=float64", *quick] if dry else [])])),
        Step("records", 10, 2, show_records),
        Step("report", 90, 20, lambda step: [py, "-m", "nnbench.report", str(runs),
                                              "--out", str(report), "--small", "--no-progress"]),
        Step("pack", 30, 5, pack),
    ]
    runner = Runner(log, args.budget, env)
    runner.run_steps(steps)
    failed = [s for s in steps if not s.ok]
    log("summary: " + "; ".join(f"{s.name} {'ok' if s.ok else 'FAILED'} {s.seconds:.0f}s"
                                for s in steps))
    files = sorted(p for p in out.rglob("*") if p.is_file())
    big = [p.name for p in files if p.stat().st_size > OUT_FILE_BYTES]
    log(f"$OUT: {len(files)} files ({', '.join(p.name for p in files)})"
        + (f"; over 16 MiB: {', '.join(big)}" if big else ""))
    if len(files) > OUT_FILES or big:
        log(f"$OUT holds more than the {OUT_FILES} files of at most 16 MiB that come back")
    log(f"device-check: {len(steps) - len(failed)}/{len(steps)} steps ok"
        + (f"; failed: {', '.join(s.name for s in failed)}" if failed else "")
        + f" ({log.elapsed():.0f} s)")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("wheels", help="fetch the wheels the GPU machine lacks (here, with PyPI)")
    w.add_argument("--dest", default=str(WHEELS))
    w.add_argument("--lock", default="requirements/lock.txt")
    c = sub.add_parser("check", help="the device check (default)")
    c.add_argument("--dry-run", action="store_true",
                   help="everything but CUDA, with this interpreter standing in for the machine")
    c.add_argument("--wheels", default=str(WHEELS),
                   help="the carried wheels ('' to install none)")
    c.add_argument("--work", default=str(WORK), help="the venv, runs and report (wiped first)")
    c.add_argument("--out", default=None, help="where the files go (default $OUT, else WORK/out)")
    c.add_argument("--budget", type=float, default=BUDGET_S, help="wall-time budget, seconds")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("wheels", "check"):
        argv = ["check", *argv]
    args = parser.parse_args(argv)
    os.chdir(REPO)
    return cmd_wheels(args) if args.command == "wheels" else cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
