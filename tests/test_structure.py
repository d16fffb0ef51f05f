"""The project's layering, checked from its own source: imports point one way, down the pipeline."""

import ast
import os
import warnings

from conftest import REPO

PACKAGES = (
    "common", "geometry", "r2n2", "photos", "procedural", "networks", "representations", "training", "evaluation",
    "tools", "benchmarks",
)  # fmt: skip

# Layers, bottom up: a module imports only modules of its own layer or of a lower one (and no
# cycle within a layer). Anything not named here is a script (the root's command lines, tools/).
LAYERS = (
    (  # building blocks: formats, geometry, metrics, losses, augmentation
        "common",
        "geometry",
        "r2n2.formats",
        "r2n2.images",
        "evaluation.metrics",
        "losses",
        "training.augment",
    ),
    ("dataset_location", "r2n2", "procedural", "photos", "dataset"),  # data: reading, caching, generating, photos
    ("networks", "model"),  # the networks: the shared parts, then the model that puts them together
    ("representations",),  # each output type: its decoder, loss, prediction for evaluation, budgets
    ("evaluation", "utils_vis"),  # scoring and drawing predictions
    ("training",),  # a training run
)
GRAMMAR = tuple(
    f"procedural.{name}"
    for name in (
        "shapes",
        "furniture",
        "chairs",
        "chair_parts",
        "tube_chairs",
        "stools",
        "tables",
        "sofas",
        "assemblies",
        "categories",
    )
)
# What the procedural world may stand on: the file formats it writes and the split rule it shares.
PROCEDURAL_MAY_IMPORT = {
    "r2n2.formats", "r2n2.layout", "dataset_location", "r2n2.splits", "common.atomic_io", "common.paths",
    "common.legacy", "common.flags", "common.ownership", "common.written",
}  # fmt: skip
LONG_FILE, LONG_FUNCTION = 400, 60  # reported, not refused: a long file that owns one thing is fine


def project_modules() -> dict[str, str]:
    """{module name: path}: the root's .py files and every package's, sub-packages included, as
    "<package>.<sub>.<name>" (a package's __init__.py as the package's own name)."""
    modules = {name[:-3]: os.path.join(REPO, name) for name in sorted(os.listdir(REPO)) if name.endswith(".py")}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(REPO, package)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            dotted = os.path.relpath(folder, REPO).replace(os.sep, ".")
            for name in sorted(files):
                if name.endswith(".py"):
                    modules[dotted if name == "__init__.py" else f"{dotted}.{name[:-3]}"] = os.path.join(folder, name)
    return modules


def imported_project_modules(name: str, path: str, modules) -> set[str]:
    """Project modules a file imports anywhere (top level or inside functions); relative imports
    resolved, `from package import x` counted as the module x when it is one, else the package."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative to the module's own package (a package's __init__ is that package)
                here = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
                here = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                base = f"{here}.{base}" if base else here
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            found |= (submodules & set(modules)) or {base}
    return found & set(modules)


def dependency_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_project_modules(name, path, modules) - {name} for name, path in modules.items()}


def layer_of(name: str) -> int | None:
    """The layer of a module (None: a script). The most specific entry of LAYERS decides."""
    best, depth = None, -1
    for level, entries in enumerate(LAYERS):
        for entry in entries:
            if (name == entry or name.startswith(entry + ".")) and entry.count(".") > depth:
                best, depth = level, entry.count(".")
    return best


def is_script(path: str) -> bool:
    return '__name__ == "__main__"' in open(path).read()


def test_imports_point_down_the_layers_without_cycles_and_no_module_imports_a_script():
    modules = project_modules()
    graph = dependency_graph()
    scripts = {name for name, path in modules.items() if is_script(path)}
    for name, deps in graph.items():
        if not name.startswith("benchmarks"):  # a benchmark times a script's own step: it may read its flags
            assert not deps & scripts, f"{name} imports the script(s) {sorted(deps & scripts)}"
        level = layer_of(name)
        if level is None:
            assert name in scripts or name.startswith(("tools", "benchmarks")), f"{name} is in no layer (see LAYERS)"
            continue
        upward = {dep for dep in deps if layer_of(dep) is not None and layer_of(dep) > level}
        assert not upward, f"{name} (layer {level}) imports {sorted(upward)} from a higher layer"
    state = {}

    def visit(name, trail):  # depth-first search for a cycle
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", "import cycle: " + " -> ".join(trail + [name])
        state[name] = "open"
        for dep in sorted(graph[name]):
            visit(dep, trail + [name])
        state[name] = "done"

    for name in graph:
        visit(name, [])


def test_the_data_layout_points_one_way():
    """dataset_location (the default root) stands on r2n2's layout, never the other way round."""
    graph = dependency_graph()
    for name, deps in graph.items():
        if name.startswith("r2n2"):
            assert "dataset_location" not in deps, f"{name} imports dataset_location"
    assert "r2n2.layout" in graph["dataset_location"]


def test_the_building_blocks_and_the_grammar_stand_alone():
    graph = dependency_graph()
    for name in ("common.ownership", "common.cli", "common.precision", "r2n2.formats"):
        assert graph[name] == set(), (name, graph[name])
    assert graph["common.atomic_io"] == {"common.ownership"}  # temporary files proven its own
    assert graph["common.written"] == {"common.ownership"}
    assert graph["geometry.rods"] == {"geometry.grids"}  # the one iso, ISO
    assert graph["evaluation.metrics"] == {"geometry.rods"}  # rods, which the thin loss shares
    assert graph["procedural.swept_parts"] == {"procedural.parts"}  # more parts, on the same base
    parts = {"procedural.parts", "procedural.swept_parts"}
    for name in GRAMMAR:  # the shape grammar stands on its parts: no data, rendering or model code
        assert graph[name] <= set(GRAMMAR) | parts | {"r2n2.formats"}, (name, graph[name])


def test_the_procedural_world_is_entered_through_its_package_only():
    graph = dependency_graph()
    for name, deps in graph.items():
        if name.startswith("procedural"):
            outside = {d for d in deps if not d.startswith("procedural")}
            assert outside <= PROCEDURAL_MAY_IMPORT, f"{name} imports {sorted(outside - PROCEDURAL_MAY_IMPORT)}"
        else:
            internals = {d for d in deps if d.startswith("procedural.")}
            assert not internals, f"{name} imports {sorted(internals)}: enter the procedural world through `procedural`"


def test_every_module_says_what_it_owns_and_long_ones_are_reported():
    """Every module opens with a docstring saying what it owns. Files over LONG_FILE lines and
    functions over LONG_FUNCTION are reported as warnings (a file that owns one concept may be
    long; one that owns two should be split by concept, not by a count)."""
    long = []
    for name, path in project_modules().items():
        source = open(path).read()
        tree = ast.parse(source)
        docstring = ast.get_docstring(tree)
        assert docstring and len(docstring.splitlines()[0]) > 20, f"{name} has no opening docstring saying what it owns"
        if source.count("\n") > LONG_FILE:
            long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(tree):
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.end_lineno - node.lineno >= LONG_FUNCTION
            ):
                long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    if long:
        warnings.warn("long files and functions (does each own one concept?): " + "; ".join(long), stacklevel=1)


def test_library_modules_take_configs_and_raise_instead_of_exiting():
    """Only scripts parse flags and end the process: a library module (one with a layer) imports
    neither argparse nor `common.cli` (the scripts' flag types and one-line exit) and never calls
    sys.exit, exit or quit. `common.cli` itself is the scripts' toolbox."""
    graph = dependency_graph()
    for name, path in project_modules().items():
        if layer_of(name) is None or name == "common.cli":
            continue
        assert "common.cli" not in graph[name], f"{name} imports common.cli: raise an exception, let the script fail"
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                assert "argparse" not in {a.name for a in node.names}, f"{name} imports argparse"
            elif isinstance(node, ast.ImportFrom):
                assert node.module != "argparse", f"{name} imports from argparse"
            elif isinstance(node, ast.Call):
                f = node.func
                exits = (isinstance(f, ast.Attribute) and f.attr == "exit" and getattr(f.value, "id", "") == "sys") or (
                    isinstance(f, ast.Name) and f.id in ("exit", "quit")
                )
                assert not exits, f"{name}:{node.lineno} exits the process: raise an exception instead"
