"""The architecture rules that `make lint` checks, each shown to bite.

`make lint` (part of `make test`) runs lint-imports over the real tree with the contracts of
pyproject.toml's [tool.importlinter]. Here each contract is broken on purpose in a copy of the
packages, and lint-imports run on that copy must fail naming the contract and the import that was
added. The added import lives in a probe module that exists only in the copy, so seeing it in the
report proves the copy was analysed (lint-imports puts its working directory first on sys.path;
the editable install's finder comes after it) and that this contract, not some other fault, failed.

One kind of cycle no contract sees: a package's __init__ importing one of its modules that imports
the package back (acyclic_siblings looks between siblings, layers between packages).
`module_cycles`, below, finds every cycle between modules with grimp, the graph library that
import-linter is built on; the last tests run it on a copy with such a cycle and on the real tree.
Run as a script (`python tests/test_architecture.py cli flows tasks warehouse`) it prints the
cycles of the packages found on sys.path and exits 1 if there are any.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PACKAGES: list[str] = CONFIG["root_packages"]
CONTRACTS: dict[str, dict] = {contract["id"]: contract for contract in CONFIG["contracts"]}
BIN = Path(sys.executable).parent


def not_python(folder: str, names: list[str]) -> list[str]:
    """For shutil.copytree: leave out caches and every file but Python (models, data, SQL)."""
    return [n for n in names
            if n == "__pycache__" or (Path(folder, n).is_file() and not n.endswith(".py"))]


def copy_packages(destination: Path) -> Path:
    """The root packages' Python files and pyproject.toml, copied into `destination`."""
    for package in PACKAGES:
        source = ROOT / package
        assert source.is_dir(), f"{package}/ is named in [tool.importlinter] but does not exist"
        shutil.copytree(source, destination / package, ignore=not_python)
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def add_lines(tree: Path, module: str, *lines: str) -> None:
    """Append `lines` to `module` in the copy (creating the module if it is not there)."""
    path = tree.joinpath(*module.split(".")).with_suffix(".py")
    with path.open("a") as file:
        file.write("\n" + "\n".join(lines) + "\n")


def run_in(tree: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """`command` with `tree` as working directory and first on the import path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tree), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def lint_imports(tree: Path) -> str:
    """lint-imports' report on the copy; it must have failed."""
    result = run_in(tree, str(BIN / "lint-imports"), "--no-cache", "--no-logo")
    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    return report


def assert_broken(report: str, contract_id: str, *expected: str) -> None:
    assert f"{CONTRACTS[contract_id]['name']} BROKEN" in report, report
    for text in expected:
        assert text in report, report


def test_duckdb_outside_warehouse_breaks_its_contract(tmp_path: Path) -> None:
    tree = copy_packages(tmp_path)
    add_lines(tree, "tasks._arch_probe", "import duckdb")
    add_lines(tree, "flows._arch_probe", "def connect():", "    from duckdb import connect")
    report = lint_imports(tree)
    assert_broken(report, "duckdb", "tasks is not allowed to import duckdb",
                  "tasks._arch_probe -> duckdb", "flows._arch_probe -> duckdb")


@pytest.mark.parametrize(("importer", "imported"), [
    ("flows", "cli"), ("tasks", "flows"), ("warehouse", "tasks"), ("warehouse", "cli")])
def test_an_upward_import_breaks_the_layers(tmp_path: Path, importer: str, imported: str) -> None:
    tree = copy_packages(tmp_path)
    add_lines(tree, f"{importer}._arch_probe", f"import {imported}")
    report = lint_imports(tree)
    assert_broken(report, "layers", f"{importer} is not allowed to import {imported}",
                  f"{importer}._arch_probe -> {imported}")


def test_a_cycle_between_sibling_modules_breaks_acyclic(tmp_path: Path) -> None:
    tree = copy_packages(tmp_path)
    add_lines(tree, "warehouse._arch_probe_a", "import warehouse._arch_probe_b")
    add_lines(tree, "warehouse._arch_probe_b", "import warehouse._arch_probe_c")
    add_lines(tree, "warehouse._arch_probe_c", "import warehouse._arch_probe_a")
    report = lint_imports(tree)
    assert_broken(report, "acyclic", "No cycles are allowed in warehouse.")
    assert any(f".{a} -> .{b}" in report for a, b in [
        ("_arch_probe_a", "_arch_probe_b"), ("_arch_probe_b", "_arch_probe_c"),
        ("_arch_probe_c", "_arch_probe_a")]), report


def test_prefect_in_warehouse_or_a_pure_tasks_module_breaks_its_contract(tmp_path: Path) -> None:
    tree = copy_packages(tmp_path)
    # Each pure tasks module the contract names that exists now imports prefect itself;
    # warehouse reaches it through a chain.
    layer = CONTRACTS["prefect-pure"]["layers"][-1]
    pure = [name.strip().strip("()") for name in layer.split(":")]
    present = [m for m in pure
               if m != "warehouse" and (ROOT / f"{m.replace('.', '/')}.py").exists()]
    for module in present:
        add_lines(tree, module, "import prefect")
    add_lines(tree, "warehouse._arch_probe", "import flows._arch_probe")
    add_lines(tree, "flows._arch_probe", "from prefect import flow")
    report = lint_imports(tree)
    assert_broken(report, "prefect-pure",
                  *[f"{m} is not allowed to import prefect" for m in present],
                  "warehouse is not allowed to import prefect",
                  "warehouse._arch_probe -> flows._arch_probe", "flows._arch_probe -> prefect")


def test_cli_importing_prefect_itself_breaks_its_contract(tmp_path: Path) -> None:
    tree = copy_packages(tmp_path)
    add_lines(tree, "cli._arch_probe", "from prefect.client.orchestration import get_client")
    report = lint_imports(tree)
    assert_broken(report, "prefect-cli", "cli is not allowed to import prefect",
                  "cli._arch_probe -> prefect")


def module_cycles(packages: list[str]) -> list[str]:
    """Every cycle of imports between modules of `packages`, one line each (empty: none).

    A cycle is a strongly connected set of modules; each line shows one loop through the set.
    """
    import grimp

    graph = grimp.build_graph(*packages, cache_dir=None)
    upstream = {m: graph.find_upstream_modules(m) for m in graph.modules}
    seen: set[str] = set()
    cycles = []
    for module in sorted(graph.modules):
        members = {module} | {n for n in upstream[module] if module in upstream[n]}
        if module in seen or len(members) == 1:
            continue
        seen |= members
        step = min(n for n in graph.find_modules_directly_imported_by(module) if n in members)
        back = graph.find_shortest_chain(importer=step, imported=module) or (step, module)
        cycles.append(" -> ".join([module, *back]) + f"   ({len(members)} modules in the cycle)")
    return cycles


def cycles_in(tree: Path) -> subprocess.CompletedProcess[str]:
    return run_in(tree, sys.executable, __file__, *PACKAGES)


def test_module_cycles_finds_a_package_importing_its_module_back(tmp_path: Path) -> None:
    tree = copy_packages(tmp_path)
    add_lines(tree, "tasks.__init__", "from tasks import _arch_probe")
    add_lines(tree, "tasks._arch_probe", "import tasks")
    result = cycles_in(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "tasks -> tasks._arch_probe -> tasks   (2 modules" in result.stdout, result.stdout


def test_no_module_cycles_in_the_real_tree() -> None:
    result = cycles_in(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


if __name__ == "__main__":
    found = module_cycles(sys.argv[1:] or PACKAGES)
    print("\n".join(found) if found else "no import cycles between modules")
    sys.exit(1 if found else 0)
