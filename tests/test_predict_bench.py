"""bench/predict.py's arguments: combinations that would mislabel or leak a figure are refused."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "bench" / "predict.py"


def bench(*args):
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=120)


def test_validation_figures_are_never_recorded():
    result = bench("--offline", "--validation", "--record")
    assert result.returncode == 2 and "leave out --validation" in result.stderr


def test_overrides_cannot_reuse_a_workspace_whose_models_they_did_not_make(tmp_path):
    result = bench("--workspace", str(tmp_path), "-S", "segment.max_db=50")
    assert result.returncode == 2 and "leave out --workspace" in result.stderr
