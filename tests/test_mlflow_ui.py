"""Comparing two runs' confusion matrices as a person does: `speech-mnist ui` on a real store with
two real evaluate runs (the baseline and a DVC experiment), driven in Debian's Chromium."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, dvc, free_port, make_git_dvc_repo, run

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = REPO / "docs" / "compare.png"  # rewritten when UPDATE_DOCS=1


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A repository with the baseline's evaluate run and one of the experiment `shots-1`."""
    repo = make_git_dvc_repo(tmp_path_factory.mktemp("ui") / "repo")
    dvc(repo, "exp", "run", "-n", "shots-1", "-S", "transfer.shots=1")
    return repo


def server_answers(port: int) -> bool:
    import urllib.request

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
        return True
    except OSError:
        return False


def evaluate_runs(repo: Path) -> dict:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("speech-mnist").experiment_id], "tags.stage = 'evaluate'")
    return {r.info.run_name: r for r in runs}


def test_each_run_is_named_by_its_experiment_or_commit(two_runs):
    commit = run(["git", "rev-parse", "--short", "HEAD~1"], cwd=two_runs).stdout.strip()  # the code's commit
    assert set(evaluate_runs(two_runs)) == {f"evaluate {commit}", "evaluate shots-1"}


def test_compare_writes_one_figure_of_the_difference(two_runs, tmp_path):
    commit = run(["git", "rev-parse", "--short", "HEAD~1"], cwd=two_runs).stdout.strip()
    out = tmp_path / "diff.png"
    result = run([sys.executable, "-m", "speech_mnist", "compare", commit, "shots-1", "-o", out], cwd=two_runs)
    assert f"shots-1 minus {commit}" in result.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    wrong = run([sys.executable, "-m", "speech_mnist", "compare", commit, "nope", "-o", out], cwd=two_runs, check=False)
    assert wrong.returncode == 2 and "no evaluate run 'nope'" in wrong.stderr


@pytest.mark.skipif(not CHROMIUM, reason="no chromium on this machine: apt-get install chromium (.ci/run does)")
def test_compare_view_shows_both_runs_confusion_figures(two_runs, tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "speech_mnist", "ui", "--port", str(port), "--no-open"], cwd=two_runs,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        link = next(line.strip() for line in ui.stdout if line.strip().startswith("http://"))
        assert "workflowType=machine_learning" in link
        runs = evaluate_runs(two_runs)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(link)
            page.get_by_text("shots-1", exact=False).first.wait_for(timeout=60_000)
            assert page.get_by_text("cnn_accuracy").count() > 0, "the runs table shows no accuracy column"
            experiment = link.split("/experiments/")[1].split("/")[0]
            ids = json.dumps([r.info.run_id for r in runs.values()])
            page.goto(f"{link.split('/#')[0]}/#/compare-runs?runs={ids}&experiments={json.dumps([experiment])}")
            close_assistant = page.get_by_role("button", name="Close")  # MLflow 3's chat panel covers the page
            if close_assistant.count():
                close_assistant.first.click()
            listed = page.get_by_text("confusion_cnn.png").first
            listed.scroll_into_view_if_needed(timeout=60_000)
            listed.dispatch_event("click")  # the file list sits under a scroll pane that takes the pointer
            page.wait_for_function("n => [...document.querySelectorAll(\"img[alt='confusion_cnn.png']\")]"
                                   ".filter(i => i.complete && i.naturalWidth > 100).length >= n",
                                   arg=len(runs), timeout=60_000)
            figures = page.locator("img[alt='confusion_cnn.png']")
            sources = figures.evaluate_all("imgs => imgs.map(i => i.src)")
            assert len(set(sources)) == len(runs), sources  # one figure of each run, side by side
            figures.first.scroll_into_view_if_needed()
            page.screenshot(path=tmp_path / "compare.png")
            if os.environ.get("UPDATE_DOCS"):
                page.screenshot(path=SCREENSHOT)
            browser.close()
    finally:
        ui.terminate()  # `ui` stops its server itself
        ui.wait(timeout=60)
        assert not server_answers(port), "the MLflow server outlived `speech-mnist ui`"


def test_a_copied_repository_shows_and_writes_its_own_artifacts(two_runs, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    copy = tmp_path / "copy"
    shutil.copytree(two_runs, copy, ignore=shutil.ignore_patterns(".dvc"))
    moved = shutil.move(two_runs, two_runs.with_name("moved-away"))  # the old place is gone
    try:
        from speech_mnist import tracking

        uri = f"sqlite:///{copy / 'mlflow.db'}"
        tracking.prepare_store(uri)  # what `speech-mnist ui` and every stage run do first
        client = MlflowClient(uri)
        for found in evaluate_runs(copy).values():
            assert found.info.artifact_uri.startswith((copy / "mlartifacts").as_uri())
            local = client.download_artifacts(found.info.run_id, "confusion_cnn.png", str(tmp_path))
            assert re.match(rb"\x89PNG", Path(local).read_bytes())
        experiment = client.get_experiment_by_name("speech-mnist")
        assert experiment.artifact_location == (copy / "mlartifacts").as_uri()
        monkeypatch.setenv("DVC_ROOT", str(copy))
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        with tracking.StageRun("evaluate", {}) as new:
            new.log_dict({"new": 1}, "new.json")
        written = Path(client.get_run(new.run_id).info.artifact_uri.removeprefix("file://")) / "new.json"
        assert written.is_file() and written.is_relative_to(copy / "mlartifacts")
    finally:
        shutil.move(moved, two_runs)
