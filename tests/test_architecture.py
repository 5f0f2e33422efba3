"""The layout rules of docs/architecture.md, checked on the source tree.

Data flows one way: public API -> estimators -> solvers / training -> kernel
wrappers -> validation and threads -> compiled kernels. These tests read every
module's imports (module level and inside functions) and fail on an import
that goes back up a layer, on an import circle, and on a module past the size
a reader can hold in mind.
"""
import ast
import pathlib

import pytest

import fastprox

PKG = pathlib.Path(fastprox.__file__).resolve().parent
MAX_LINES = 500

# Estimator modules: everything else in a subpackage is solver / training code.
ESTIMATORS = {
    "fastprox.linear_model._coordinate_descent",
    "fastprox.linear_model._cv",
    "fastprox.linear_model._logistic",
    "fastprox.linear_model._logistic_cv",
    "fastprox.linear_model._logistic_cv_attributes",
    "fastprox.linear_model._logistic_cv_path",
    "fastprox.linear_model._stochastic_gradient",
    "fastprox.neural_network._multilayer_perceptron",
}
# Public modules of the top layer (facades and entry points).
API = {"fastprox", "fastprox.__main__", "fastprox._demo", "fastprox._config", "fastprox._patch",
       "fastprox.report", "fastprox.pruning", "fastprox.linear_model",
       "fastprox.neural_network"}


def layer(module):
    """Layer of ``module``: higher layers may import lower ones, never the reverse."""
    if module == "fastprox._version" or module.startswith("fastprox._kernels"):
        return 0
    if module == "fastprox._threads":
        return 1
    if module == "fastprox._validation":
        return 2
    if module in ("fastprox.prox", "fastprox.sparse", "fastprox._csr_prune"):
        return 3
    if module in API:
        return 6
    if module in ESTIMATORS:
        return 5
    if module.startswith(("fastprox.linear_model.", "fastprox.neural_network.")):
        return 4
    raise AssertionError(f"{module} has no layer: add it to tests/test_architecture.py "
                         "and docs/architecture.md")


def _modules():
    """Module name -> source file, Python and Cython (a compiled kernel is a leaf)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")) + sorted(PKG.rglob("*.pyx")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(module, path):
    """The fastprox modules ``module`` imports, resolved to names in MODULES."""
    if path.suffix == ".pyx":
        return set()  # cimports of the kernels' own .pxd files only
    is_pkg = path.name == "__init__.py"
    package = module if is_pkg else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # "from pkg import mod" names a module when pkg.mod is one
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                     for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name.startswith("fastprox") and name != module:
                found.add(name)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down(module):
    up = [dep for dep in GRAPH[module] if layer(dep) > layer(module)]
    assert not up, f"{module} (layer {layer(module)}) imports a higher layer: {up}"


def test_no_import_circle():
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for dep in sorted(GRAPH[m]):
            if state.get(dep) == "open":
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, stack + [dep])
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])


def test_kernels_are_self_contained():
    for m, deps in GRAPH.items():
        if m.startswith("fastprox._kernels"):
            assert all(d.startswith("fastprox._kernels") for d in deps), (m, deps)


@pytest.mark.parametrize("module", sorted(m for m, p in MODULES.items() if p.suffix == ".py"))
def test_module_size(module):
    n = len(MODULES[module].read_text().splitlines())
    assert n <= MAX_LINES, f"{module} has {n} lines (> {MAX_LINES}): split it by job"


def test_the_graph_is_read():
    # a checker that resolved nothing would pass every rule above
    assert "fastprox._kernels.prox_fast" in GRAPH["fastprox.prox"]
    assert "fastprox._kernels._openmp" in GRAPH["fastprox._threads"]
    assert "fastprox._validation" in GRAPH["fastprox.sparse"]
    assert layer("fastprox.prox") > layer("fastprox._validation") > layer("fastprox._kernels")
