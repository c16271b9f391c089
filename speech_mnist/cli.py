"""The `speech-mnist` command line (also `python -m speech_mnist`)."""

import argparse
import sys


def cmd_params(args) -> int:
    from .config import write_params

    path = write_params(args.overrides, conf_dir=args.conf, path=args.output)
    print(f"composed {args.conf}/config.yaml {' '.join(args.overrides)} -> {path}")
    return 0


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
