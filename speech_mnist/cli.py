"""The `speech-mnist` command line (also `python -m speech_mnist`)."""

import argparse
import sys


def cmd_params(args) -> int:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from .config import write_params

    try:
        path = write_params(args.overrides, conf_dir=args.conf, path=args.output)
    except (HydraException, OmegaConfBaseException) as error:
        print(f"speech-mnist params: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"composed {args.conf}/config.yaml {' '.join(args.overrides)} -> {path}")
    return 0


def cmd_ui(args) -> int:
    """The MLflow UI on the project's store: compare runs' confusion matrices side by side."""
    import subprocess

    from .tracking import prepare_store, tracking_uri

    uri = tracking_uri()
    prepare_store(uri)
    print(f"MLflow UI on {uri}: http://{args.host}:{args.port}  (Ctrl-C to stop)")
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
               "--host", args.host, "--port", str(args.port)]
    return subprocess.call(command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="speech-mnist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    params = commands.add_parser(
        "params", help="compose conf/ into params.yaml (what `dvc exp run` does; plain `dvc repro` does not)",
        description="Compose conf/config.yaml with Hydra overrides into params.yaml. "
                    "Run it after editing conf/, then `dvc repro`.")
    params.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. stamp=mfcc train.epochs=5")
    params.add_argument("--conf", default="conf", help="config folder (default: conf)")
    params.add_argument("--output", default="params.yaml", help="where to write (default: params.yaml)")
    params.set_defaults(run=cmd_params)

    ui = commands.add_parser("ui", help="start the MLflow UI on the project's tracking store",
                             description="Start `mlflow server` on the project's store (mlflow.db at the repo "
                                         "root, or MLFLOW_TRACKING_URI). Open a run's artifacts, or select runs "
                                         "and Compare, to see confusion/cnn.png side by side.")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(run=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
