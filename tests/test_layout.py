"""The project's layout holds: the library never imports its scripts, nothing edits `sys.path`, every subpackage
has its audience, and the README stays a front page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "modeling_jepa_mlm"
SCRIPTS = ("run_pretraining", "run_glue_probe")


def _python_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in ([root] if root.is_file() else root.rglob("*.py")))


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _python_files(PACKAGE), ids=lambda p: str(p.relative_to(REPO)))
def test_the_library_never_imports_its_scripts(path):
    imported = {name.split(".")[0] for name in _imported_modules(path)}
    assert not imported & set(SCRIPTS), f"{path.relative_to(REPO)} imports {imported & set(SCRIPTS)}"


def _edits_sys_path(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and getattr(node.value, "id", None) == "sys"
        ):
            return True
    return False


def test_no_sys_path_manipulation_in_package_scripts_tests_benchmarks_or_experiments():
    roots = [PACKAGE, REPO / "tests", REPO / "benchmarks", REPO / "experiments"]
    roots += [REPO / f"{s}.py" for s in SCRIPTS]
    offenders = [str(p.relative_to(REPO)) for p in _python_files(*roots) if _edits_sys_path(p)]
    assert offenders == []


def test_the_scripts_are_thin_wrappers_over_the_package():
    for script in SCRIPTS:
        tree = ast.parse((REPO / f"{script}.py").read_text())
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert functions == [], (
            f"{script}.py defines {[f.name for f in functions]}: its logic belongs in the package"
        )


def test_readme_is_a_front_page():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 220, (
        f"README.md has {len(lines)} lines; full results belong in experiments/RESULTS.md"
    )
    assert "../shared" not in "\n".join(lines)


def test_the_package_and_readme_cite_no_document_outside_the_repository():
    """Every project document named in capitals (`RESULTS.md`, `PROVENANCE.md`, ...) that the README or the
    package cites is a file of the repository: a reader of either never meets a reference to a file they lack."""
    in_repo = {p.name for p in REPO.rglob("*.md") if ".git" not in p.parts}
    sources = [REPO / "README.md"] + [
        p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in {".py", ".md", ".yaml"}
    ]
    cited = {
        (str(p.relative_to(REPO)), name)
        for p in sources
        for name in re.findall(r"\b[A-Z][A-Z_]*\.md\b", p.read_text())
    }
    assert cited, "the pattern finds nothing: the test would pass vacuously"
    assert sorted((where, name) for where, name in cited if name not in in_repo) == []
    assert not any("../shared" in p.read_text() for p in sources[1:])
