"""The package's architecture, read from its source with ``ast`` (nothing of it is imported).

Layers: the top (``nnbench/__main__.py``; the Python API, ``nnbench/__init__.py`` and
``nnbench/api.py``; ``hydra_plugins/``) uses the adapters (``nnbench.hydra``, ``nnbench.slurm``,
``nnbench.cli``), which use the core (the rest of ``nnbench``). Arrows point down and never in a
circle; only ``nnbench/frameworks/`` tells frameworks apart, only ``nnbench/slurm/`` runs SLURM,
only Hydra's adapters touch Hydra's internals.
"""

from __future__ import annotations

import ast
from itertools import pairwise
from pathlib import Path

from helpers import REPO

PACKAGE = REPO / "nnbench"
FRAMEWORKS = {"numpy", "torch", "textbook", "cupy"}
SLURM_COMMANDS = {"sbatch", "squeue", "scontrol", "sacct", "scancel"}
MAX_LINES = 300

Graph = dict[str, dict[str, int]]  # module -> {module it imports: line of the first such import}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def where(name: str) -> str:
    return str(MODULES[name].relative_to(REPO))


def inside(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def imports(name: str, tree: ast.AST) -> list[tuple[str, int]]:
    """Every module a module imports, anywhere in it (functions too), with the line: ``from a.b
    import c`` is a.b.c when that is a module of nnbench or a.b is outside it, else a.b."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for alias in node.names:
                named = f"{base}.{alias.name}"
                found.append((named if named in MODULES or not inside(base, "nnbench") else base,
                              node.lineno))
    return found


def import_graph() -> Graph:
    """Edges between modules of nnbench, each to the module named. ``import nnbench.a.b`` also
    runs nnbench/__init__ and nnbench/a/__init__ first; those edges to parent packages are left
    out on purpose: every package whose ``__init__`` imports its submodules would look like a
    cycle with them (7 such today, none real: the package is in sys.modules before they run),
    and every module would import the top layer (``nnbench``). Edges from a package's
    ``__init__`` to its own submodules are kept: the real graph has no cycle through them."""
    graph: Graph = {}
    for name, tree in TREES.items():
        edges = graph.setdefault(name, {})
        for target, line in imports(name, tree):
            if target in MODULES and target != name:
                edges.setdefault(target, line)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Cycles found by depth-first search: one per edge back to a module on the current path,
    as the modules round it, the first repeated at the end. Empty only if there is none."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, {})):
            if target in path:
                found.append(path[path.index(target):] + [target])
            elif target not in done:
                visit(target, path + [target])
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    return found


def layer(name: str) -> int:
    """2: the top (the CLI, the Python API); 1: the adapters; 0: the core."""
    if name in ("nnbench", "nnbench.__main__") or inside(name, "nnbench.api"):
        return 2
    return 1 if inside(name, "nnbench.hydra", "nnbench.slurm", "nnbench.cli") else 0


def upward(graph: Graph) -> list[str]:
    """Imports of a higher layer, of Hydra or SLURM by the console line (``nnbench.cli`` must
    work without either), and of ``nnbench.__main__`` by anything."""
    bad = []
    for source, edges in sorted(graph.items()):
        for target, line in sorted(edges.items()):
            sideways = inside(source, "nnbench.cli") and inside(target, "nnbench.hydra",
                                                                 "nnbench.slurm")
            if layer(source) < layer(target) or sideways or target == "nnbench.__main__":
                bad.append(f"{source} (line {line}) imports {target}")
    return bad


def test_the_import_graph_of_the_package_has_no_cycle():
    graph = import_graph()
    found = ["".join(f"{a} (line {graph[a][b]}) -> " for a, b in pairwise(c)) + c[-1]
             for c in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_layers_point_down():
    found = upward(import_graph())
    assert not found, "imports against the layers:\n" + "\n".join(found)


def into_the_report(graph: Graph) -> list[str]:
    """Imports of ``nnbench.report`` from outside it, in functions too: the report only reads
    what jobs wrote, so a job, a sweep's end, the console line or the Python API must run
    (and a sweep stop) with the report's figures and pages absent or broken. What they share
    with it (reading, labels, pooling, verdicts) lives in ``nnbench.results``."""
    return [f"{source} (line {line}) imports {target}"
            for source, edges in sorted(graph.items()) if not inside(source, "nnbench.report")
            for target, line in sorted(edges.items()) if inside(target, "nnbench.report")]


def test_nothing_outside_the_report_imports_it():
    found = into_the_report(import_graph())
    assert not found, "the report imported from outside it:\n" + "\n".join(found)


def names_a_framework(node: ast.AST) -> bool:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(names_a_framework(e) for e in node.elts)
    return isinstance(node, ast.Constant) and node.value in FRAMEWORKS


def framework_comparisons(tree: ast.AST) -> list[int]:
    """Lines that compare with a framework's name (==, !=, in, not in, match cases). A library
    looked up by name (``sys.modules.get("torch")``) or a dict keyed by one is no comparison."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and all(
                isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
            if any(names_a_framework(e) for e in [node.left, *node.comparators]):
                lines.append(node.lineno)
        elif isinstance(node, ast.MatchValue) and names_a_framework(node.value):
            lines.append(node.lineno)
    return lines


def test_no_module_outside_frameworks_compares_a_framework_name():
    found = {where(name): lines for name, tree in TREES.items()
             if not inside(name, "nnbench.frameworks")
             if (lines := framework_comparisons(tree))}
    assert not found, f"framework names compared outside nnbench/frameworks/ (lines): {found}"


def slurm_commands(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants (not docstrings) whose first word is a SLURM command, with the words of
    the command as written: an argv list's leading strings, or the string itself."""
    skip = {id(n.value) for n in ast.walk(tree)  # docstrings and other bare strings: prose
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    found = []
    for node in ast.walk(tree):  # breadth first: an argv list before the strings in it
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
            words = []
            for e in node.elts:
                if not (isinstance(e, ast.Constant) and isinstance(e.value, str)):
                    break
                words.append(e.value)
            if words and words[0] in SLURM_COMMANDS:
                skip.add(id(node.elts[0]))
                found.append((node.lineno, " ".join(words)))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in skip and node.value.split()
              and node.value.split()[0] in SLURM_COMMANDS):
            found.append((node.lineno, node.value))
    return found


def test_slurm_is_run_only_from_nnbench_slurm():
    # The one exception: a record written inside a SLURM job reads the job's own allocation
    # (``scontrol show job`` / ``scontrol show node``, read-only) to say whether it held the
    # node; that is part of every record, not of the launcher.
    allowed = {("nnbench.measure.scheduler", "scontrol show ")}
    found = [f"{where(name)}:{line}: {text!r}" for name, tree in TREES.items()
             if not inside(name, "nnbench.slurm")
             for line, text in slurm_commands(tree)
             if not any(name == m and text.startswith(ok) for m, ok in allowed)]
    assert not found, "SLURM commands outside nnbench/slurm/:\n" + "\n".join(found)


SAMPLE = '''"""sbatch in a docstring is prose, as comments are."""
if framework == "torch" or name not in ("cupy", "other"): pass
version, names = sys.modules.get("torch"), {"numpy": 1}  # a lookup, a key
match framework:
    case "textbook": pass
run(["scontrol", "update", job]); log(f"squeue failed: {err}")
'''


def test_the_checks_find_what_they_look_for():
    # so that the tests above cannot pass because they look at nothing
    graph = {"nnbench.job": {"nnbench.record": 3, "nnbench.hydra.sweeper": 9},
             "nnbench.record": {"nnbench.job": 5}, "nnbench.hydra.sweeper": {}}
    assert cycles(graph) == [["nnbench.job", "nnbench.record", "nnbench.job"]]
    assert upward(graph) == ["nnbench.job (line 9) imports nnbench.hydra.sweeper"]
    assert into_the_report({"nnbench.hydra.sweeper": {"nnbench.report.analyse.compare": 4},
                            "nnbench.report.render.html": {"nnbench.report": 2}}) == [
        "nnbench.hydra.sweeper (line 4) imports nnbench.report.analyse.compare"]
    assert len(import_graph()) == len(MODULES) and any(import_graph().values())
    tree = ast.parse(SAMPLE)
    assert sorted(framework_comparisons(tree)) == [2, 2, 5]
    assert sorted(slurm_commands(tree)) == [(6, "scontrol update"), (6, "squeue failed: ")]


def test_hydra_internals_are_imported_only_by_the_hydra_adapters():
    # Hydra's internals change between its releases without notice: one place to fix when they
    # do (nnbench/hydra/; hydra_plugins/, where Hydra finds the sweeper, is not walked)
    found = [f"{where(name)}:{line}" for name, tree in TREES.items()
             if not inside(name, "nnbench.hydra")
             for target, line in imports(name, tree) if inside(target, "hydra._internal")]
    assert not found, f"hydra._internal imported outside nnbench/hydra/: {found}"


def test_no_module_of_the_package_is_over_300_lines():
    # a module that long holds more than one idea; split it by what it holds
    long = {where(name): n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (file: lines): {long}"
