"""nnbench.files: whole-or-absent writes, the umask's modes, and cleaning up after dead writers."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import warnings

import pytest

from nnbench import files
from nnbench.files import (
    TEMP_PREFIX,
    CacheWarning,
    atomic_write,
    cache_warnings,
    remove_stale_temporaries,
    write_text,
)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def temporary_of(pid: int, target: str = "x.npz") -> str:
    """A temporary's name as process ``pid`` on this host would have made it."""
    owner, _, rest = files.temporary_name(target)[len(TEMP_PREFIX):].partition(".")
    return f"{TEMP_PREFIX}{owner}.{pid}.{rest.partition('.')[2]}"


def test_atomic_write_leaves_nothing_behind_on_any_exception(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")

    def fails_with(exc):
        def write(f):
            f.write(b"partial")
            f.flush()
            assert len(os.listdir(tmp_path)) == 2  # the temporary, beside the target
            raise exc
        return write

    for exc in (ValueError("bad content"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            atomic_write(target, fails_with(exc))
        assert target.read_text() == "old" and os.listdir(tmp_path) == ["result.json"]
    write_text(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["result.json"]


def test_temporaries_name_the_pid_and_end_in_tmp(tmp_path):
    name = files.temporary_name("result.json")
    assert name.startswith(TEMP_PREFIX) and name.endswith(".result.json.tmp")
    assert f".{os.getpid()}." in name
    assert len(files.temporary_name("x" * 300)) < 255


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_files_get_the_umask_default_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == mode


def test_stale_temporaries_go_and_those_of_live_writers_stay(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = tmp_path / temporary_of(dead_pid())
        dead_folder = tmp_path / temporary_of(dead_pid(), "download")
        live = tmp_path / temporary_of(sleeper.pid)
        mine = tmp_path / temporary_of(os.getpid())
        live_but_idle = tmp_path / temporary_of(sleeper.pid, "y.npz")
        # another host's pid means nothing here: only age tells
        elsewhere = tmp_path / f"{TEMP_PREFIX}otherhost-1.{dead_pid()}.abcd.x.npz.tmp"
        elsewhere_idle = tmp_path / f"{TEMP_PREFIX}otherhost-1.{dead_pid()}.abcd.y.npz.tmp"
        unrelated = tmp_path / ".hidden"
        for path in (dead, live, mine, live_but_idle, elsewhere, elsewhere_idle, unrelated):
            path.write_bytes(b"half")
        (dead_folder / "inside").mkdir(parents=True)
        old = time.time() - 2 * files.STALE_AFTER_S
        for path in (live_but_idle, elsewhere_idle, unrelated):
            os.utime(path, (old, old))
        removed = remove_stale_temporaries(tmp_path)
        assert sorted(removed) == sorted([dead, dead_folder, live_but_idle, elsewhere_idle])
        assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in (live, mine, elsewhere,
                                                                       unrelated))
    finally:
        sleeper.kill()
        sleeper.wait()


def test_remove_stale_temporaries_by_age_for_another_prefix(tmp_path):
    old_one, new_one = tmp_path / ".peak-abc.tmp", tmp_path / ".peak-def.tmp"
    for path in (old_one, new_one):
        path.write_text("{")
    os.utime(old_one, (1, 1))
    assert remove_stale_temporaries(tmp_path, ".peak-") == [old_one]
    assert new_one.exists()


def test_remove_stale_temporaries_tolerates_missing_and_read_only_folders(tmp_path):
    assert remove_stale_temporaries(tmp_path / "nowhere") == []
    assert remove_stale_temporaries("/proc") == []


def test_cache_warnings_are_collected_every_time_and_others_pass_on():
    for _ in range(2):  # the same warning from the same line: python would show it once
        with cache_warnings() as found:
            warnings.warn("discarded /x/y", CacheWarning, stacklevel=1)
        assert found == ["discarded /x/y"]
    with pytest.warns(DeprecationWarning, match="unrelated"), cache_warnings() as found:
        warnings.warn("unrelated", DeprecationWarning, stacklevel=1)
    assert found == []
    with pytest.raises(RuntimeError), cache_warnings() as found:  # kept when the block fails
        warnings.warn("discarded /x/z", CacheWarning, stacklevel=1)
        raise RuntimeError("and then the load failed")
    assert found == ["discarded /x/z"]
