"""Team workflows against real parts: a git + DVC repository, queued experiments run by two
workers, a real `mlflow server` on 127.0.0.1, and DVC remotes (a local folder, and S3 served
by moto on 127.0.0.1). Every server a test starts, the test stops."""

import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import dvc, free_port, git, make_git_dvc_repo, run, server

pytestmark = pytest.mark.slow

OUTPUTS = ["data/recordings", "data/words", "data/stamps", "models/cnn.keras", "models/cnn.tflite",
           "models/cnn_stamp_settings.json", "models/svm.skops"]


@pytest.fixture(scope="module")
def team_repo(tmp_path_factory):
    """A committed repository whose pipeline has run once."""
    return make_git_dvc_repo(tmp_path_factory.mktemp("team") / "origin")


def round_trip(origin: Path, clone_to: Path, remote: str, env: dict | None = None):
    """push from origin; in a fresh clone, pull; repro there must do nothing."""
    extra = {"env": env} if env else {}
    dvc(origin, "push", "-r", remote, **extra)
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", f"remote {remote}", "--allow-empty")
    run(["git", "clone", "-q", str(origin), str(clone_to)], cwd=origin.parent)
    for path in OUTPUTS:
        assert not (clone_to / path).exists()
    dvc(clone_to, "pull", "-r", remote, **extra)
    for path in OUTPUTS:
        assert (clone_to / path).exists(), f"{path} not restored by dvc pull"
    assert (clone_to / "models/cnn.keras").read_bytes() == (origin / "models/cnn.keras").read_bytes()
    out = dvc(clone_to, "repro", **extra).stdout
    assert "Running stage" not in out, out


def test_local_remote_round_trip(team_repo, tmp_path):
    dvc(team_repo, "remote", "add", "-f", "folder", str(tmp_path / "remote"))
    round_trip(team_repo, tmp_path / "clone", "folder")


def test_s3_remote_round_trip_on_moto(team_repo, tmp_path):
    import boto3

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    from workspace import venv_env

    env = venv_env() | credentials
    moto = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with server(moto, f"{endpoint}/"):
        boto3.client("s3", endpoint_url=endpoint, **{k.lower(): v for k, v in credentials.items()
                                                    if k != "AWS_DEFAULT_REGION"},
                     region_name="us-east-1").create_bucket(Bucket="speech")
        dvc(team_repo, "remote", "add", "-f", "s3", "s3://speech/dvc")
        dvc(team_repo, "remote", "modify", "s3", "endpointurl", endpoint)
        round_trip(team_repo, tmp_path / "clone", "s3", env=env)


def test_queued_sweep_runs_on_two_workers_into_one_fresh_store(team_repo):
    (team_repo / "mlflow.db").unlink(missing_ok=True)  # both workers find no store: the race
    # values unlike the baseline's (2): a stage restored from the run cache does not run, nor log
    dvc(team_repo, "exp", "run", "--queue", "-S", "train.epochs=1,3")
    dvc(team_repo, "queue", "start", "-j", "2")
    deadline = time.time() + 600
    while time.time() < deadline:
        status = dvc(team_repo, "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert "Failed" not in status, status + dvc(team_repo, "queue", "logs", status.split()[0], check=False).stdout
    table = json.loads(dvc(team_repo, "exp", "show", "--json").stdout)
    experiments = [e for rev in table for e in (rev.get("experiments") or [])]
    names = {e["name"] for e in experiments}
    assert len(names) == 2
    epochs = sorted(e["revs"][0]["data"]["params"]["params.yaml"]["data"]["train"]["epochs"] for e in experiments)
    assert epochs == [1, 3]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{team_repo / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("speech-mnist").experiment_id])
    evaluated = {r.data.tags["dvc_exp_name"] for r in runs if r.data.tags["stage"] == "evaluate"}
    assert evaluated == names
    assert all("cnn_accuracy" in r.data.metrics for r in runs if r.data.tags["stage"] == "evaluate")


def test_mlflow_server_lists_runs_with_their_confusion_artifacts(team_repo):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{team_repo / 'mlflow.db'}",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with server(command, f"{base}/health"):
        def call(path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            request = urllib.request.Request(f"{base}{path}", data=data, headers={"Content-Type": "application/json"})
            return json.loads(urllib.request.urlopen(request, timeout=30).read())

        experiments = call("/api/2.0/mlflow/experiments/search", {"max_results": 10})["experiments"]
        experiment = next(e for e in experiments if e["name"] == "speech-mnist")
        runs = call("/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment["experiment_id"]],
                                                    "filter": "tags.stage = 'evaluate'"})["runs"]
        assert runs
        for found in runs:
            listed = call(f"/api/2.0/mlflow/artifacts/list?run_id={found['info']['run_id']}")
            paths = {f["path"] for f in listed["files"]}
            assert {"confusion_cnn.png", "confusion_svm.png", "confusion"} <= paths
