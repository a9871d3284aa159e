"""How much memory a job needs, estimated before it starts, and how much this host can give.

A job whose arrays cannot fit is refused before it starts, with the estimate, instead of
training until the kernel's out-of-memory killer ends it (and perhaps other processes of the
host with it). The estimate counts the large arrays only, from the sizes a config states:

- data: the loader's arrays (features in float64 and int64 labels, generated, then split: two
  copies), then the trainer's own copy of the training set in the run's dtype with its
  targets, and the inputs prepared for inference (both splits);
- activations and workspaces: per row of a batch (the whole training set for full-batch
  training), each layer's outputs, their gradients and the output buffer, plus the gathered
  batch; inference over a whole split keeps two of each;
- parameters: the float64 draw, the trainer's parameters and gradients, and a copy.

The interpreter, the libraries (torch alone takes a few hundred MB) and allocator slack are not
counted: the job is refused when the estimate times ``SAFETY`` exceeds the memory available,
which is the smaller of the kernel's MemAvailable (psutil) and the room left under this
process's cgroup memory limit (a container's limit is what its OOM killer enforces). On a GPU
the activations live on the device, whose allocator reports its own out-of-memory (``oom``).

After the fact, ``oom_kills`` reads the kernel's count of out-of-memory kills: a job's process
killed by SIGKILL while that count rose was most likely the OOM killer's victim.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from nnbench.errors import ConfigError

# The estimate is a floor (large arrays only): a job needs SAFETY times it, at least.
SAFETY = 1.25
ITEMSIZE = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}
GB = 1024 ** 3


class TooLarge(ConfigError):
    """A job that cannot fit in the memory this host has: refused before it starts, or, when
    found on the host where it was to run, recorded as ``oom``."""


@dataclass(frozen=True)
class Estimate:
    data: int
    activations: int
    parameters: int
    rows: int  # of the largest batch trained or inferred at once

    @property
    def total(self) -> int:
        return self.data + self.activations + self.parameters


def estimate(layer_sizes: list[int], n_train: int, n_test: int, dtype: str,
             batch_size: int | None, on_host: bool = True) -> Estimate:
    """The large arrays of one job, in bytes (see the module's docstring)."""
    item = ITEMSIZE.get(str(dtype), 4)
    features, outputs, widths = layer_sizes[0], layer_sizes[-1], sum(layer_sizes[1:])
    n = n_train + n_test
    data = n * (features + 1) * 8 * 2 + n_train * (features + outputs) * item + n * features * item
    params = sum((a + 1) * b for a, b in zip(layer_sizes, layer_sizes[1:], strict=False))
    rows = min(batch_size or n_train, n_train)
    infer_rows = max(n_train, n_test)
    activations = 0
    if on_host:  # on a GPU the device's allocator answers for these
        activations = (rows * (3 * widths + features) + infer_rows * 2 * widths) * item
    return Estimate(data=data, activations=activations, parameters=params * (8 + 3 * item),
                    rows=max(rows, infer_rows))


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _inactive_file(stat: Path, key: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in stat.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup memory limits (the tightest of its cgroup and
    those above it), page cache that can be dropped counted as room; None without a limit."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, where = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # cgroup v2
            mount, files = Path("/sys/fs/cgroup"), ("memory.max", "memory.current",
                                                    "inactive_file")
        elif "memory" in controllers.split(","):  # cgroup v1
            mount, files = Path("/sys/fs/cgroup/memory"), ("memory.limit_in_bytes",
                                                           "memory.usage_in_bytes",
                                                           "total_inactive_file")
        else:
            continue
        folder = mount / where.strip("/")
        while True:
            limit, usage = _read_int(folder / files[0]), _read_int(folder / files[1])
            if limit is not None and usage is not None and limit < 2 ** 60:
                rooms.append(limit - usage + _inactive_file(folder / "memory.stat", files[2]))
            if folder == mount or mount not in folder.parents:
                break
            folder = folder.parent
    return max(min(rooms), 0) if rooms else None


def available() -> tuple[int, str] | None:
    """(bytes a new job can use, what says so), or None when this host cannot tell."""
    try:
        import psutil

        found = [(int(psutil.virtual_memory().available), "available memory")]
    except Exception:  # noqa: BLE001 - no psutil figure on this platform: the cgroup's, if any
        found = []
    room = _cgroup_room()
    if room is not None:
        found.append((room, "room under this process's cgroup memory limit"))
    return min(found) if found else None


def _gb(n: float) -> str:
    if n >= GB / 10:
        return f"{n / GB:.1f} GB"
    return f"{n / 1024 ** 2:.0f} MB" if n >= 1024 ** 2 else f"{n / 1024:.0f} KB"


def check_fits(need: Estimate, what: str) -> None:
    """``TooLarge`` with the estimate when ``need`` times SAFETY exceeds what is available."""
    have = available()
    if have is None or need.total * SAFETY <= have[0]:
        return
    raise TooLarge(
        f"{what} needs about {_gb(need.total)} of memory ({_gb(need.data)} data, "
        f"{_gb(need.activations)} activations and workspaces for up to {need.rows:,} rows at "
        f"once, {_gb(need.parameters)} parameters), and this host has {_gb(have[0])} "
        f"({have[1]}); a job is started only with {SAFETY}x its estimate available: use fewer "
        f"samples, or mini-batches (train.batch_size)")


def oom_kills() -> int | None:
    """How many processes the kernel's out-of-memory killer has ended since boot."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/vmstat").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    return None
