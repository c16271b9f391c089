"""dvc.yaml lists, for every stage, every project module its script runs, so that `dvc repro`
re-runs a stage whenever its code changes. The imports are read from the source, not kept by hand."""

import ast
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PACKAGES = ("speech_mnist", "stages")


def imported_modules(path: Path) -> set[str]:
    """Dotted names of the project modules a file imports anywhere (also inside functions)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{parent}.{base}".rstrip(".")
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in names if name.split(".")[0] in PACKAGES}


def module_file(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    return next((f for f in (path.with_suffix(".py"), path / "__init__.py") if f.exists()), None)


def import_closure(script: Path) -> set[str]:
    """The script and every project module it imports, directly or through other project modules,
    as repo-relative paths (package __init__ files left out: they hold no code)."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += [f for f in map(module_file, imported_modules(path)) if f]
    return {str(p.relative_to(REPO)) for p in seen if p.name != "__init__.py"}


STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_every_module_the_stage_runs(stage):
    deps = {str(d) for d in STAGES[stage]["deps"]}
    needed = import_closure(REPO / "stages" / f"{stage}.py")
    missing = sorted(needed - deps)
    assert not missing, f"dvc.yaml: stage {stage} runs {missing} but does not list them in its deps"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_no_module_the_stage_does_not_run(stage):
    """A module listed but not run re-runs the stage for nothing (and hides a wrong import)."""
    deps = {str(d) for d in STAGES[stage]["deps"] if str(d).endswith(".py")}
    extra = sorted(deps - import_closure(REPO / "stages" / f"{stage}.py"))
    assert not extra, f"dvc.yaml: stage {stage} lists {extra}, which it never imports"


def test_the_closure_follows_imports_through_other_modules():
    closure = import_closure(REPO / "stages" / "train_svm.py")
    assert "speech_mnist/files.py" in closure  # through transfer.py and models.py, never imported directly


def test_the_stamp_settings_saved_beside_the_cnn_are_params_of_train_cnn():
    """Otherwise a change of one that leaves the stamps as they were leaves the saved settings stale:
    predict would ask for a `dvc repro` that has nothing to do."""
    from conftest import compose
    from speech_mnist.stamps import stamp_settings

    params = {str(p) for p in STAGES["train_cnn"]["params"]}
    unlisted = [key for key in stamp_settings(compose())
                if not any(key == p or key.startswith(p + ".") for p in params)]
    assert not unlisted, f"dvc.yaml: train_cnn saves {unlisted} beside the CNN but does not list them in its params"
