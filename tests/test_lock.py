"""The environment the tests run in holds exactly the versions requirements/lock.txt pins."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from nnbench.measure.lock import LOCK_FILE, lock_status, mismatches, read_lock


def test_lock_pins_every_package_exactly() -> None:
    pins, header = read_lock()  # raises on any line that is not name==version
    for name in ("numpy", "torch", "torchvision", "hydra-core", "omegaconf", "scipy", "pip"):
        assert name in pins, f"{LOCK_FILE} does not pin {name}"
    assert {"made", "python", "platform"} <= header.keys()


def test_installed_versions_are_the_locked_ones() -> None:
    pins, header = read_lock()
    if header["platform"] != sysconfig.get_platform():
        pytest.skip(f"the lock was made on {header['platform']}, this is "
                    f"{sysconfig.get_platform()}: run make lock here to pin this platform's set")
    bad = mismatches(pins)
    lines = [f"  {n}: locked {v['locked']}, installed {v['installed'] or 'missing'}"
             for n, v in bad.items()]
    assert not bad, "not at the locked version (make install reinstalls from the lock):\n" \
        + "\n".join(lines)


def test_lock_status_names_what_differs(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    pytest_pin = f"pytest=={pytest.__version__}\n"
    lock.write_text("# made: 2000-01-01\n# platform: nowhere\n"
                    "numpy==0.0.1\nno-such-package-anywhere==1.0\n" + pytest_pin)
    status = lock_status(lock)
    assert status is not None
    assert status["matches"] is False
    assert status["n_pins"] == 3 and status["made"] == "2000-01-01"
    assert set(status["mismatches"]) == {"numpy", "no-such-package-anywhere"}
    assert status["mismatches"]["no-such-package-anywhere"]["installed"] is None
    assert len(status["pins_sha256"]) == 12

    # The digest is of the pins alone: a new header or another order does not change it.
    lock.write_text(pytest_pin + "no-such-package-anywhere==1.0\nnumpy==0.0.1\n")
    assert lock_status(lock)["pins_sha256"] == status["pins_sha256"]

    lock.write_text("numpy>=1.26\n")
    with pytest.raises(ValueError, match="not an exact"):
        read_lock(lock)
    assert lock_status(lock) is None
    assert lock_status(tmp_path / "missing.txt") is None
