"""A record no folder takes is printed on stdout, and the job's process says so by its exit
status: its parent tells that apart from a process that ended 0 having run no job at all."""

from __future__ import annotations

import json
import time

from nnbench import unsaved
from nnbench.job import resolve
from nnbench.runner import salvage
from nnbench.runner.isolated import outcome


def test_a_printed_record_gives_its_own_exit_status_and_its_parent_says_where_it_went(
        tmp_path, monkeypatch, capsys, make_cfg):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # no folder can be made under a file
    monkeypatch.setattr(unsaved, "roots", lambda: [blocker / "unsaved"])
    monkeypatch.setattr(salvage, "printed", False)
    job = resolve(make_cfg("train.epochs=2"))
    assert salvage.exit_status() == 0
    # a job whose process died writes its record here: nowhere, so on stdout
    outcome(job, blocker / "job", 1, 7, None, time.time())
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["status"] == "failed" and "exit code 7" in printed["reason"]
    assert salvage.exit_status() == salvage.PRINTED_EXIT
    told = outcome(job, blocker / "job", 1, salvage.PRINTED_EXIT, None, time.time())
    assert told["reason"] == "no folder could take the job's record: it was printed on stdout"
