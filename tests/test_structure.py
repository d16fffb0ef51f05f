"""The project's layering, checked from its own source: imports point one way and files stay readable."""

import ast
import os

from conftest import REPO

MAX_LINES = 400


def project_modules() -> dict[str, str]:
    """{module name: path} of the top-level .py files."""
    return {name[:-3]: os.path.join(REPO, name) for name in sorted(os.listdir(REPO)) if name.endswith(".py")}


def imported_project_modules(path: str, modules) -> set[str]:
    """Project modules a file imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(modules)


def is_script(path: str) -> bool:
    return '__name__ == "__main__"' in open(path).read()


def test_no_import_cycles_and_no_module_imports_a_script():
    modules = project_modules()
    graph = {name: imported_project_modules(path, modules) - {name} for name, path in modules.items()}
    scripts = {name for name, path in modules.items() if is_script(path)}
    for name, deps in graph.items():
        assert not deps & scripts, f"{name}.py imports the script(s) {sorted(deps & scripts)}"
    # Depth-first search for a cycle.
    state = {}

    def visit(name, trail):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", "import cycle: " + " -> ".join(trail + [name])
        state[name] = "open"
        for dep in sorted(graph[name]):
            visit(dep, trail + [name])
        state[name] = "done"

    for name in graph:
        visit(name, [])


def test_grammar_and_formats_import_nothing_of_the_project():
    modules = project_modules()
    for name in ("parts", "cli", "r2n2", "geometry", "metrics", "losses", "augment"):
        assert imported_project_modules(modules[name], modules) - {name} == set(), name
    # The shape grammar stands on its parts alone: no data, rendering or model code.
    for name in ("shapes", "furniture", "chairs", "tables", "sofas", "categories"):
        assert imported_project_modules(modules[name], modules) <= {"parts", "shapes", "furniture", "chairs", "tables", "sofas"}, name


def test_every_module_is_short_and_says_what_it_owns():
    for name, path in project_modules().items():
        source = open(path).read()
        n_lines = source.count("\n")
        assert n_lines <= MAX_LINES, f"{name}.py has {n_lines} lines (over {MAX_LINES}: split it by what it owns)"
        docstring = ast.get_docstring(ast.parse(source))
        assert docstring and len(docstring.splitlines()[0]) > 20, f"{name}.py has no opening docstring saying what it owns"
