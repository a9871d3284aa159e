"""Your own network (framework=mine): three learner networks written as the seeds write them,
each agreeing with torch in float64, and three broken ones, each diagnosed by name and
parameter in one line (the job's reason), in the console and the report."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from helpers import REPO, TESTS, blobs, run_cli

from nnbench.errors import ConfigError
from nnbench.frameworks.mine import MineTrainer
from nnbench.frameworks.mine.code import load
from nnbench.frameworks.mine.trainer import Options
from nnbench.frameworks.torch.trainer import TorchTrainer
from nnbench.params import init_params
from nnbench.spec import ModelSpec

LEARNERS = TESTS / "learners"
# each learner with a network of the shape it is written for
SEED000 = (LEARNERS / "seed000_functions.py", (5, 32, 16, 1), ("relu", "relu", "sigmoid"),
           "bce", "he_normal")
SEED002 = (LEARNERS / "seed002_columns.py", (5, 10, 4), ("relu", "softmax"), "cross_entropy",
           "uniform")
SEED001 = (LEARNERS / "seed001_class.py", (5, 16, 8, 4), ("relu", "relu", "softmax"),
           "cross_entropy", "he_normal")


def build(learner, code=None, precision="float64"):
    path, sizes, acts, loss, init = learner
    spec = ModelSpec(sizes, acts, loss)
    params = init_params(sizes, init, 3)
    mine = MineTrainer(spec, params, precision, "cpu", 0.2, Options(code=str(code or path)))
    theirs = TorchTrainer(spec, params, precision, "cpu", 0.2)
    x, y = blobs(n=400)
    # standardised: the loss nnbench records is taken from your probabilities, which lose
    # digits where an output saturates (p within 1e-9 of 1); torch's is taken from logits
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return mine, theirs, x, y if sizes[-1] > 1 else (y % 2)


def rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))


@pytest.mark.parametrize("learner", [SEED000, SEED002, SEED001], ids=["seed000", "seed002",
                                                                       "seed001"])
def test_a_learners_network_agrees_with_torch_to_1e_12_in_float64(learner):
    mine, theirs, x, y = build(learner)
    assert rel(mine.outputs_to_numpy(mine.infer(mine.prepare(x))),
               theirs.outputs_to_numpy(theirs.infer(theirs.prepare(x)))) < 1e-12
    grads, reference = mine.gradients(x, y), theirs.gradients(x, y)
    assert sorted(grads) == sorted(reference)
    for name in grads:
        assert grads[name].shape == reference[name].shape
        assert rel(grads[name], reference[name]) < 1e-12, name
    mine.set_train_data(x, y)
    theirs.set_train_data(x, y)
    rng = np.random.default_rng(0)
    ours, torchs = [], []
    for _ in range(15):
        perm = rng.permutation(len(y))
        ours.append(mine.train_epoch(perm, 32))
        torchs.append(theirs.train_epoch(perm, 32))
    assert ours[-1] < ours[0]  # it trained
    assert rel(ours, torchs) < 1e-12
    for name, value in mine.numpy_params().items():
        assert rel(value, theirs.numpy_params()[name]) < 1e-12, name


@pytest.mark.parametrize("learner", [SEED000, SEED002, SEED001], ids=["seed000", "seed002",
                                                                       "seed001"])
def test_the_diagnosis_of_a_right_network_says_so(learner):
    mine, _, x, y = build(learner)
    found = mine.diagnose(x, y, None, 5, 0, False)
    assert found["ok"], found["summary"]
    assert found["summary"].startswith("your network agrees with torch: outputs ")
    assert found["lines"][-1].startswith("loss curves agree for 5 epochs")
    assert all(g["torch"] < 1e-12 and g["finite_differences"] < 1e-6
               for g in found["gradients"].values())


BROKEN = {
    "db_sum": (SEED000, "db3 is off by a factor of 400 = the batch size: the mean over samples "
                        "is missing (divide the sum over the 400 samples by m)"),
    "relu_deriv": (SEED002, "dW1 is wrong: dZ1 = dA1 * relu(Z1): the activation where its "
                            "derivative belongs: check the ReLU derivative; also wrong: db1"),
    "transposed": (SEED001, "dW3 is transposed: it has shape (4, 8), W3 is (8, 4) (dW3 = "
                            "A2.T @ dZ3 / m with samples as rows and W stored (in, out)); also "
                            "wrong: dW2, dW1"),
}


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_a_broken_network_is_diagnosed_by_name_and_parameter(variant):
    learner, summary = BROKEN[variant]
    mine, _, x, y = build(learner, LEARNERS / "broken" / f"{variant}.py")
    found = mine.diagnose(x, y, None, 5, 0, False)
    assert not found["ok"]
    assert found["summary"] == summary
    # the parameters after it in backprop order that are right are said to be
    matched = [line.split()[0] for line in found["lines"] if " matches torch " in line]
    assert matched == {"db_sum": ["dW3", "dW2", "db2", "dW1", "db1"],
                       "relu_deriv": ["dW2", "db2"],
                       "transposed": ["db3", "db2", "db1"]}[variant]
    assert found["lines"][0].startswith("outputs match torch")
    curves = found["loss_curves"]
    assert curves["parted_at_epoch"] is not None or "error" in curves


def test_a_mean_missing_by_a_factor_other_than_the_batch_is_told_apart():
    # a learner that divides by m twice, or flips the sign: the same factor check, other words
    mine, _, x, y = build(SEED000)
    from nnbench.frameworks.mine import findings

    r = np.arange(1.0, 7.0).reshape(2, 3)
    args = (400, mine.layout, {}, mine.spec)
    assert findings.name_mistake("W2", r / 400, r, *args) == (
        "dW2 is off by a factor of 1/400 = 1/the batch size: it is divided by the batch size "
        "twice")
    assert findings.name_mistake("W2", -r, r, *args) == (
        "dW2 has the wrong sign: the gradient of the loss is A - Y, not Y - A")
    assert findings.name_mistake("W2", r + [[0, 0, 1], [0, 0, 0]], r, *args) == (
        "dW2 differs from torch's by 1.7e-01 (relative to its largest entry)")


def test_a_relu_derivative_of_1_at_0_is_found_where_z_is_0():
    spec = ModelSpec((3, 4, 2), ("relu", "softmax"), "cross_entropy")
    params = init_params(spec.layer_sizes, "he_normal", 0)  # biases 0: a zero sample gives Z1 = 0
    x = np.vstack([np.zeros(3), np.random.default_rng(1).standard_normal((9, 3))])
    y = np.arange(10) % 2
    from nnbench.frameworks.mine import findings

    ref = findings.reference(spec, params, x, y)
    wrong = findings.reference(spec, params, x, y, "at_zero", 1)
    assert findings.rel(wrong["b1"], ref["b1"]) > 1e-3
    layout = load(str(SEED000[0])).layout
    assert findings.name_mistake("b1", wrong["b1"], ref["b1"], 10, layout,
                                 findings.variants(spec, params, x, y), spec) == (
        "db1 is wrong: dZ1 wrong where Z1 = 0: relu'(0) is taken as 1; torch takes 0: check "
        "the ReLU derivative")


def test_code_that_raises_is_named_with_its_file_and_line(tmp_path):
    bad = tmp_path / "mlp.py"
    bad.write_text((LEARNERS / "seed000_functions.py").read_text().replace(
        "    m = y.shape[1]\n", "    m = y.shape[2]\n"))
    mine, _, x, y = build(SEED000, bad)
    found = mine.diagnose(x, y, None, 5, 0, False)
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1)
                if "y.shape[2]" in text)
    assert found["summary"] == (f"backward raised IndexError: tuple index out of range "
                                f"(mlp.py, line {line}: m = y.shape[2])")


@pytest.mark.parametrize("source, message", [
    (None, "framework=mine needs your network's code: mine=path/to/my_mlp.py (a file) or "
           "mine=my_package.my_mlp (a module) holding forward(params, x), backward(params, "
           "cache, x, y) and a layout dict"),
    ("layout = {'samples': 'columns'}\ndef forward(p, x): pass\n",
     "mine={path} has no backward; mine=path/to/my_mlp.py (a file) or mine=my_package.my_mlp "
     "(a module) holding forward(params, x), backward(params, cache, x, y) and a layout dict"),
    ("layout = {'samples': 'cols'}\ndef forward(p, x): pass\ndef backward(p, c, x, y): pass\n",
     "mine={path}: layout['samples']='cols' is not one of columns, rows"),
    ("layout = {'rows': True}\ndef forward(p, x): pass\ndef backward(p, c, x, y): pass\n",
     "mine={path}: layout['rows'] is not a layout key; the keys are samples, weights, bias, "
     "labels"),
    ("import numpy as np\n1 / 0\n",
     "mine={path} cannot be imported: ZeroDivisionError: division by zero"),
])
def test_code_that_does_not_follow_the_protocol_is_refused_in_one_line(tmp_path, source,
                                                                        message):
    path = tmp_path / "mlp.py"
    if source is not None:
        path.write_text(source)
    with pytest.raises(ConfigError) as err:
        load(str(path) if source is not None else None)
    assert str(err.value) == message.format(path=path)


def _records(runs):
    return {json.loads(p.read_text())["framework"]: json.loads(p.read_text())
            for p in runs.rglob("result.json")}


SWEEPS = {
    "seed000": ["mine=tests/learners/seed000_functions.py"],
    "seed002": ["mine=tests/learners/seed002_columns.py", "dataset=synthetic",
                "arch.layer_sizes=[20,10,2]", "train.init=uniform"],
    "seed001": ["mine=tests/learners/seed001_class.py", "dataset=synthetic"],
}


@pytest.mark.slow
@pytest.mark.parametrize("learner", sorted(SWEEPS))
def test_one_command_runs_a_learners_network_beside_numpy_and_torch(learner, tmp_path):
    sweep = run_cli("-m", "framework=numpy,torch,mine", *SWEEPS[learner], "precision=float64",
                    "train.epochs=8", "bench.mfu=false", "bench.memory_probe=false",
                    f"runs_dir={tmp_path / 'runs'}", cwd=REPO)
    assert sweep.returncode == 0, sweep.stderr
    assert "3 jobs: 3 ok" in sweep.stdout
    assert "diagnosis: your network agrees with torch" in sweep.stdout
    records = _records(tmp_path / "runs")
    assert records["mine"]["diagnosis"]["ok"]
    # its functions are the phases
    assert {"forward", "backward", "update"} <= set(records["mine"]["phases_s"])
    for other in ("numpy", "torch"):
        assert rel(records["mine"]["loss_history"], records[other]["loss_history"]) < 1e-12


CONSOLE = {
    "db_sum": ([], "db3 is off by a factor of 1,600 = the batch size: the mean over samples is "
                   "missing (divide the sum over the 1,600 samples by m)", "part at epoch 2"),
    "relu_deriv": (["dataset=synthetic", "arch.layer_sizes=[20,10,2]", "train.init=uniform"],
                   "dW1 is wrong: dZ1 = dA1 * relu(Z1): the activation where its derivative "
                   "belongs: check the ReLU derivative; also wrong: db1", "part at epoch 1"),
    "transposed": (["dataset=synthetic"],
                   "dW2 is transposed: it has shape (2, 64), W2 is (64, 2) (dW2 = A1.T @ dZ2 / m "
                   "with samples as rows and W stored (in, out)); also wrong: dW1",
                   "not trained"),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(CONSOLE))
def test_a_broken_network_fails_its_job_with_the_diagnosis_in_the_console_and_report(
        variant, tmp_path):
    overrides, summary, curves = CONSOLE[variant]
    sweep = run_cli("framework=mine", f"mine=tests/learners/broken/{variant}.py", *overrides,
                    "train.epochs=5", "bench.mfu=false", f"runs_dir={tmp_path / 'runs'}",
                    cwd=REPO)
    assert sweep.returncode == 1
    assert f"failed   {summary}\n" in sweep.stdout
    assert "outputs match torch" in sweep.stdout and "Traceback" not in sweep.stderr
    record = _records(tmp_path / "runs")["mine"]
    assert (record["status"], record["reason"], record["error_type"]) == (
        "failed", summary, "Disagreement")
    assert record["train_time_per_epoch_s"] is None  # not timed: it is not the same network
    report = run_cli(str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--no-progress",
                     module="nnbench.report")
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "summary.md").read_text()
    mine = text[text.index("## Your network against torch (framework=mine)"):]
    row = next(line for line in mine.splitlines() if line.startswith("| default "))
    assert f"| failed   | {summary} | {curves} " in row
    not_ok = text[text.index("## Runs that did not end ok"):]
    assert summary in not_ok.split("\n## ")[0]
    # both curves until they part, when yours trained at all
    assert (tmp_path / "report" / "diagnosis_curves.png").is_file() == (curves != "not trained")


def test_your_file_is_part_of_the_code_a_record_came_from(tmp_path):
    # bench.resume and the report's pooling compare the code part: a record made before you
    # fixed your backward must not stand for one made after
    from nnbench import identity

    path = tmp_path / "mlp.py"
    path.write_text((LEARNERS / "seed000_functions.py").read_text())
    files = MineTrainer.code_files(Options(code=str(path)))
    assert files == [path.resolve()]
    trainer = identity.trainer_file(MineTrainer)
    before = identity.code(trainer, (str(files[0]),))
    assert re.search(r"\+mlp\.py:[0-9a-f]{12}$", before["version"])
    path.write_text(path.read_text().replace("/ m\n", "/ m  # averaged\n", 1))
    assert str(files[0]) in identity.stale()  # a warm process that imported it serves no more
    identity.code.cache_clear()  # taken once per process: a new process takes it again
    after = identity.code(trainer, (str(files[0]),))
    assert after["digest"] != before["digest"] and after["version"] != before["version"]
    assert MineTrainer.code_files(Options(code=str(tmp_path / "gone.py"))) == []
