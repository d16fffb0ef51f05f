"""The project's layering, checked from its own source: imports point one way and files stay readable."""

import ast
import os

from conftest import REPO

MAX_LINES = 400  # a file past this usually owns two concepts
MAX_FUNCTION_LINES = 60  # a function a reader sees on one screen (argument parsers included)
PACKAGE = "procedural"
BUILDING_BLOCKS = ("cli", "atomic_io", "r2n2", "geometry", "metrics", "losses", "augment", "frames", "procedural.parts")
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
        "categories",
    )
)
# What the procedural world may stand on: the file formats it writes and the split rule it shares.
PROCEDURAL_MAY_IMPORT = {"r2n2", "dataset_location", "splits", "atomic_io"}


def project_modules() -> dict[str, str]:
    """{module name: path}: the root's .py files and the package's, as "procedural.<name>"."""
    modules = {name[:-3]: os.path.join(REPO, name) for name in sorted(os.listdir(REPO)) if name.endswith(".py")}
    package = os.path.join(REPO, PACKAGE)
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            modules[PACKAGE if name == "__init__.py" else f"{PACKAGE}.{name[:-3]}"] = os.path.join(package, name)
    return modules


def imported_project_modules(name: str, path: str, modules) -> set[str]:
    """Project modules a file imports anywhere (top level or inside functions); relative imports
    inside the package resolved, `from procedural import x` counted as the package's entry."""
    found = set()
    package = PACKAGE if name.startswith(PACKAGE) else ""
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = f"{package}.{base}" if base else package
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            found |= (submodules & set(modules)) or {base}
    return found & set(modules)


def dependency_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_project_modules(name, path, modules) - {name} for name, path in modules.items()}


def is_script(path: str) -> bool:
    return '__name__ == "__main__"' in open(path).read()


def test_no_import_cycles_and_no_module_imports_a_script():
    modules = project_modules()
    graph = dependency_graph()
    scripts = {name for name, path in modules.items() if is_script(path)}
    for name, deps in graph.items():
        assert not deps & scripts, f"{name} imports the script(s) {sorted(deps & scripts)}"
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


def test_building_blocks_and_the_grammar_stand_alone():
    graph = dependency_graph()
    for name in BUILDING_BLOCKS:
        assert graph[name] == set(), (name, graph[name])
    assert graph["procedural.swept_parts"] == {"procedural.parts"}  # more parts, on the same base
    parts = {"procedural.parts", "procedural.swept_parts"}
    for name in GRAMMAR:  # the shape grammar stands on its parts: no data, rendering or model code
        assert graph[name] <= set(GRAMMAR) | parts | {"r2n2"}, (name, graph[name])


def test_the_procedural_world_is_entered_through_its_package_only():
    graph = dependency_graph()
    for name, deps in graph.items():
        inside = name.startswith(PACKAGE)
        if inside:
            outside_deps = {d for d in deps if not d.startswith(PACKAGE)}
            assert outside_deps <= PROCEDURAL_MAY_IMPORT, (
                f"{name} imports {sorted(outside_deps - PROCEDURAL_MAY_IMPORT)}"
            )
        else:
            internals = {d for d in deps if d.startswith(PACKAGE + ".")}
            assert not internals, (
                f"{name} imports {sorted(internals)}: enter the procedural world through `procedural` only"
            )


def test_every_module_is_short_says_what_it_owns_and_has_short_functions():
    for name, path in project_modules().items():
        source = open(path).read()
        n_lines = source.count("\n")
        assert n_lines <= MAX_LINES, f"{name} has {n_lines} lines (over {MAX_LINES}: split it by what it owns)"
        tree = ast.parse(source)
        docstring = ast.get_docstring(tree)
        assert docstring and len(docstring.splitlines()[0]) > 20, f"{name} has no opening docstring saying what it owns"
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= MAX_FUNCTION_LINES, (
                    f"{name}.{node.name} is {length} lines (over {MAX_FUNCTION_LINES}: split it into named steps)"
                )
