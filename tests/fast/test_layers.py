"""The package's rooms, stated from its folders (no hand-kept list of modules).

- ``blender/`` holds every module that needs Blender (imports bpy, bmesh, mathutils, blf, gpu, ...),
  and nothing else; every other module imports with Blender absent.
- Layers, lowest first: the contracts at the top level, ``processes/``, then ``ml/`` and ``blender/``
  (which never import each other), then the entry points (``cli/``, the package's ``__init__``
  and ``__main__``). Imports run downwards; the one allowed exception is counted.
- No import cycles, counting imports inside functions and the packages an import runs.
- ``ml/`` imports TensorFlow only where it trains or runs a model; everything outside ``ml/``
  imports with TensorFlow absent too (Blender's Python has none).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "blendercnn_addon")
BLENDER_MODULES = ("bpy", "bmesh", "mathutils", "blf", "gpu", "gpu_extras", "bpy_extras", "bl_math", "aud",
                   "idprop", "imbuf", "freestyle")
TENSORFLOW_MODULES = ("tensorflow", "keras", "tensorboard")
BLENDER, PROCESSES, ML, CLI = "blender", "processes", "ml", "cli"
LAYERS = {"contracts": 0, PROCESSES: 1, ML: 2, BLENDER: 2, "entry points": 3}
# The one import that runs from a lower layer back up: none. (cli/ is an entry point, so its
# rendering commands reaching into blender/ run downwards.)
ALLOWED_UPWARD_IMPORTS: set[tuple[str, str]] = set()


def modules() -> dict[str, str]:
    """{dotted name relative to the package ('' for its __init__): path}."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, ".")
                found[dotted.removesuffix("__init__").rstrip(".")] = path
    return found


def room(module: str) -> str:
    """Which folder rule applies: blender, processes, ml, cli, or contracts (the top level)."""
    first = module.split(".")[0]
    if first in (BLENDER, PROCESSES, ML, CLI):
        return first
    return "entry points" if module in ("", "__main__") else "contracts"


def layer(module: str) -> int:
    kind = room(module)
    return LAYERS["entry points" if kind == CLI else kind]


def imports(path: str, package: str, known: dict[str, str]) -> tuple[set[str], set[str], set[str]]:
    """(package modules it imports anywhere, outside modules it imports at module level, outside
    modules it imports anywhere), following ``from . import x`` to the module x where x is one."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    inside, top_level, anywhere = set(), set(), set()
    top_nodes = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = package.split(".") if package else []
            base = parts[:len(parts) - node.level + 1]
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:
                named = f"{target}.{alias.name}".lstrip(".")
                inside.add(named if named in known else target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            outside = {name.split(".")[0] for name in names}
            anywhere |= outside
            if id(node) in top_nodes:
                top_level |= outside
    for target in list(inside):  # importing a.b.c runs the packages a and a.b first
        parts = target.split(".")
        inside |= {".".join(parts[:k]) for k in range(1, len(parts))}
    return inside, top_level, anywhere


def graph():
    known = modules()
    edges, top_level, anywhere = {}, {}, {}
    for module, path in known.items():
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        inside, top, every = imports(path, package, known)
        edges[module] = {m for m in inside if m in known and m != module and not module.startswith(m + ".")
                         and m != ""}
        top_level[module], anywhere[module] = top, every
    return known, edges, top_level, anywhere


def needs_blender(edges, anywhere) -> set[str]:
    """Modules that import a Blender module, or (at any depth) a module that does."""
    needing = {m for m, outside in anywhere.items() if outside & set(BLENDER_MODULES)}
    grew = True
    while grew:
        more = {m for m, targets in edges.items() if targets & needing and m not in needing
                and room(m) not in ("entry points", CLI)}
        needing |= more
        grew = bool(more)
    return needing


def test_every_module_that_needs_blender_lives_in_blender_and_nothing_else_does():
    known, edges, _, anywhere = graph()
    needing = needs_blender(edges, anywhere)
    outside = sorted(m for m in needing if room(m) != BLENDER)
    assert outside == [], f"need Blender but live outside blender/: {outside}"
    idle = sorted(m for m in known if room(m) == BLENDER and m != BLENDER and m not in needing
                  and not known[m].endswith("__init__.py"))
    assert idle == [], f"in blender/ but need no Blender (move them to where they belong): {idle}"


def test_nothing_below_the_entry_points_imports_from_blender_and_ml_and_blender_stay_apart():
    _, edges, _, _ = graph()
    wrong = sorted((m, t) for m, targets in edges.items() for t in targets
                   if room(t) == BLENDER and room(m) not in (BLENDER, CLI, "entry points")
                   or room(t) == ML and room(m) == BLENDER)
    assert wrong == []


def test_imports_run_downwards():
    _, edges, _, _ = graph()
    upward = {(m, t) for m, targets in edges.items() for t in targets if layer(t) > layer(m)}
    print(f"imports from a lower layer back up: {len(upward)} {sorted(upward)}")
    assert upward == ALLOWED_UPWARD_IMPORTS


def test_the_package_has_no_import_cycles_even_through_imports_inside_functions():
    _, edges, _, _ = graph()
    state, cycles = {}, []

    def visit(module, path):
        state[module] = "open"
        for other in sorted(edges[module]):
            if state.get(other) == "open":
                cycles.append(path[path.index(other):] + [other])
            elif other not in state:
                visit(other, path + [other])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_tensorflow_is_imported_at_module_level_only_inside_ml():
    _, _, top_level, _ = graph()
    wrong = sorted(m for m, outside in top_level.items() if outside & set(TENSORFLOW_MODULES) and room(m) != ML)
    assert wrong == []


def test_every_module_outside_blender_and_ml_imports_without_blender_or_tensorflow():
    """A real import, not a reading of the source: bpy, TensorFlow and Keras blocked as in a bare Python."""
    known, _, _, _ = graph()
    names = sorted("blendercnn_addon" + (f".{m}" if m else "") for m in known
                   if room(m) not in (BLENDER, ML) and m != "__main__")
    blocked = [*BLENDER_MODULES, *TENSORFLOW_MODULES]
    code = (f"import importlib, sys\nfor name in {blocked!r}: sys.modules[name] = None\n"
            f"for name in {names!r}: importlib.import_module(name)\nprint(len({names!r}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_top_level_holds_only_the_contracts_and_at_most_25_files():
    top = sorted(name for name in os.listdir(PACKAGE) if name.endswith(".py"))
    assert len(top) <= 25, top
