"""The `speech-mnist` command line (also `python -m speech_mnist`).

Commands that use the pipeline's models or params find the project from any folder inside it
(the nearest folder above holding dvc.yaml) or from --project; a user's own files (recordings,
outputs) are relative to the working directory.
"""

import argparse
import os
import sys
from pathlib import Path

from .errors import UserError, first_line


class Parser(argparse.ArgumentParser):
    """argparse, with a bad argument told in one line (no usage block) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def positive_int(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def word_seconds(text: str) -> float:
    """A word's length in seconds: above 0, and at most 10 (a word, not a recording)."""
    value = positive_float(text)
    if value > 10:
        raise argparse.ArgumentTypeError(f"expected at most 10 seconds for a word, got {text!r}")
    return value


def speaker_name(text: str) -> str:
    """A name that fits <vocab>_<speaker>_<take>: not empty, no '_'."""
    if not text or "_" in text:
        raise argparse.ArgumentTypeError(f"{text!r}: a speaker name must be non-empty and without '_'")
    return text


def why_unwritable(path: Path) -> str | None:
    """Why `path` cannot be written, or None: asked before the command's work, not after it.
    An existing file is opened for appending (which changes nothing); for a new one, the folder
    is tried with a file that is gone when closed, since a permission check alone passes a
    read-only file system, or a folder such as /proc that takes no new file."""
    import tempfile

    try:
        if path.exists():
            open(path, "ab").close()
            return None
        with tempfile.TemporaryFile(dir=path.resolve().parent):
            return None
    except OSError as error:
        where = "the file" if path.exists() else "its folder takes no new file"
        return f"{where}: {error.strerror or first_line(error)}"


def output_file(*suffixes: str):
    """An argparse type for a file to write: its folder exists, it is not a folder, its suffix fits."""

    def check(text: str) -> Path:
        path = Path(text)
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a folder; name a file ending in {' or '.join(suffixes)}")
        if path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"{text}: the file name must end in {' or '.join(suffixes)}")
        if not path.resolve().parent.is_dir():
            raise argparse.ArgumentTypeError(f"{text}: the folder {path.parent} does not exist")
        if reason := why_unwritable(path):
            raise argparse.ArgumentTypeError(f"{text}: cannot write there ({reason})")
        return path

    return check


def has_display() -> bool:
    import os

    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def project_and_params(args) -> tuple[Path, dict]:
    from .config import PARAMS_FILE, find_project, load_params

    project = find_project(args.project)
    return project, load_params(args.params or project / PARAMS_FILE)


def cmd_params(args) -> int:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from .config import PARAMS_FILE, find_project, write_params

    project = None if args.conf and args.output else find_project(args.project)
    conf, output = args.conf or project / "conf", args.output or project / PARAMS_FILE
    try:
        path = write_params(args.overrides, conf_dir=conf, path=output)
    except (HydraException, OmegaConfBaseException) as error:
        raise UserError(hydra_reason(error)) from None
    print(f"composed {conf}/config.yaml {' '.join(args.overrides)} -> {path}")
    return 0


def hydra_reason(error: Exception) -> str:
    """Hydra's message in one line: its first paragraph, whose later lines are hints such as
    "To append to your config use +train.epoch=5", and the options of a group it did not find."""
    first, *rest = str(error).strip().split("\n\n")
    reason = " ".join(line.strip() for line in first.splitlines()) or type(error).__name__
    for paragraph in rest:  # "Available options in 'model':\n\tcnn_lstm\n...\nConfig search path:..."
        head, *lines = paragraph.split("Config search path")[0].splitlines()
        if head.startswith("Available options"):
            reason += f"; {head.rstrip(':').lower()}: {', '.join(line.strip() for line in lines if line.strip())}"
    return reason


def cmd_ui(args) -> int:
    """The MLflow UI on the project's store, opened on the runs table; compare confusion matrices there."""
    import os
    import signal
    import subprocess

    from .config import find_project
    from .tracking import experiment_id, prepare_store, tracking_uri, ui_link, wait_until_ready

    uri = tracking_uri(find_project(args.project))
    prepare_store(uri)
    link = ui_link(f"http://{args.host}:{args.port}", experiment_id(uri))
    # One worker and no GenAI job consumers: two processes instead of 16, ready in seconds.
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", args.host,
               "--port", str(args.port), "--workers", "1"]
    # Its own process group: `mlflow server` starts uvicorn and does not stop it on SIGTERM, so the
    # whole group is stopped below, whether `ui` ends by Ctrl-C, by a signal or by an error.
    server = subprocess.Popen(command, env=os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                              start_new_session=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if not wait_until_ready(f"http://{args.host}:{args.port}/health", server, seconds=120):
            raise UserError(f"the MLflow server did not start (exit {server.poll()}); is port {args.port} free?")
        print(f"MLflow UI on {uri}:\n  {link}\n(select runs, Compare, then confusion_cnn.png; Ctrl-C to stop)",
              flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(link)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop_process_group(server)


def stop_process_group(process, seconds: float = 20) -> None:
    """SIGTERM to a process started with start_new_session and all it started; SIGKILL if it lingers."""
    import os
    import signal
    import subprocess

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=seconds)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def cmd_compare(args) -> int:
    """Run B's confusion matrices minus run A's, as one PNG."""
    from .compare import compare_runs
    from .config import find_project

    labels = compare_runs(args.run_a, args.run_b, args.output, find_project(args.project))
    print(f"{labels[1]} minus {labels[0]} (CNN and SVM confusion matrices) -> {args.output}")
    return 0


def cmd_predict(args) -> int:
    """Recognise the words of each file; one line of reason for a file that can't be read."""
    import json
    from dataclasses import asdict

    from .recognise import Recogniser

    project, params = project_and_params(args)
    recogniser = Recogniser(params, args.vocab, root=project, speakers=args.speaker)
    status, report = 0, []
    for path, heard in recogniser.recognise_all(args.files):
        if isinstance(heard, Exception):
            print(f"{path}: cannot read: {first_line(heard)}", file=sys.stderr)
            report.append({"file": path, "error": str(heard)})
            status = 1
            continue
        for warning in heard.warnings:
            print(f"{path}: warning: {warning}", file=sys.stderr)
        words = [{k: v for k, v in asdict(w).items() if (k != "speaker" or args.speaker) and (k != "guess" or v)}
                 for w in heard.words]
        report.append({"file": path, "words": words, "warnings": heard.warnings}
                      | ({"speaker": heard.speaker} if args.speaker else {}))
        if not args.json:
            said_by = f", said by {heard.speaker}" if heard.speaker else ""
            print(f"{path}: " + (f"{len(heard.words)} word(s){said_by}" if heard.words else "no speech"), flush=True)
            for w in heard.words:
                print(f"  {w.start:7.2f} {w.end:7.2f}  {w.word:<10} {w.score:8.4f}" + (f"  {w.speaker}" if w.speaker else "")
                      + (f"  (most like {w.guess})" if w.guess else ""))
    if args.json:
        print(json.dumps(report, indent=2))
    return status


def cmd_inspect(args) -> int:
    """The workshop's "play with segmentation" view of one recording, as a PNG."""
    from .audio import BadAudio, load
    from .segment import locate_words
    from .views import plot_segmentation

    _, params = project_and_params(args)
    output = args.output or Path(Path(args.file).stem + ".inspect.png")
    if args.output is None and (reason := why_unwritable(output)):  # -o was checked by argparse (output_file)
        raise UserError(f"{output}: cannot write there ({reason})")
    rate = params["audio"]["sample_rate"]
    try:
        samples, warnings = load(args.file, params["audio"])
    except (BadAudio, OSError) as error:
        print(f"{args.file}: cannot read: {first_line(error)}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    spans = locate_words(samples, rate, params["segment"], args.words).spans
    plot_segmentation(samples, rate, spans, params, output, f"{Path(args.file).name}: {len(spans)} words")
    print(f"{len(spans)} words: {', '.join(f'{a:.2f}-{b:.2f}s' for a, b in spans) or 'no speech'} -> {output}")
    return 0


def word_file(project: Path, params: dict, data: dict, i: int) -> Path:
    """The word file a stamp was made from, by the dataset's provenance."""
    if "path" not in data:
        raise UserError("these stamps are speech embeddings and name no word files: there is no sound to rebuild")
    path = project / params["paths"]["words"] / str(data["path"][i])
    if not path.is_file():
        raise UserError(f"no word file {path}: run `dvc repro` (or `dvc pull`) first")
    return path


def cmd_listen(args) -> int:
    """Audio rebuilt from stamps with Griffin-Lim: hear what the network sees."""
    import zipfile

    import numpy as np

    from .audio import read_audio, write_wav
    from .config import compose_params
    from .files import load_npz
    from .stamps import make_stamp
    from .views import stamp_to_audio

    project, params = project_and_params(args)
    stamps = args.stamps or project / params["paths"]["stamps"] / f"{params['corpus']['digits']}.npz"
    if Path(stamps).is_dir():
        raise UserError(f"{stamps} is a folder: name a stamps dataset (data/stamps/<vocab>.npz) with --stamps")
    if not Path(stamps).is_file():
        raise UserError(f"no stamps at {stamps}: run `dvc repro` (or `dvc pull`) first, or name a file with --stamps")
    if not zipfile.is_zipfile(stamps):  # numpy would call any other file "pickled data"
        raise UserError(f"{stamps} is not a stamps dataset: not an .npz archive (data/stamps/<vocab>.npz is one)")
    try:
        data = load_npz(stamps)
        data["x"], data["word"]
    except KeyError as error:  # e.g. a features file: the CNN's outputs, no stamps
        raise UserError(f"{stamps} is not a stamps dataset: it holds no {error} array") from None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise UserError(f"{stamps} is not a stamps dataset: {first_line(error)}") from None
    rate = params["audio"]["sample_rate"]
    picked = [i for i in range(len(data["x"])) if not args.word or data["word"][i] == args.word][: args.count]
    if not picked:
        print(f"no stamps of {args.word!r} in {stamps}", file=sys.stderr)
        return 1
    stamp, images = params["stamp"], [data["x"][i] for i in picked]
    if stamp["feature"] == "pretrained":  # embeddings hold no sound: hear the words' own filterbank stamps
        stamp = compose_params(["stamp=fbank"], project / "conf")["stamp"]
        images = [make_stamp(read_audio(word_file(project, params, data, i), rate), rate, stamp) for i in picked]
    gap = np.zeros(int(0.3 * rate), np.float32)
    audio = np.concatenate([part for image in images for part in (stamp_to_audio(image, rate, stamp, args.seconds), gap)])
    write_wav(args.output, audio / (np.abs(audio).max() or 1) * 0.9, rate)
    print(f"{len(picked)} stamps ({', '.join(str(data['word'][i]) for i in picked)}) -> {args.output}")
    return 0


def cmd_record(args, backend=None) -> int:
    """Prompt through a vocab and write <vocab>_<speaker>_<take>.wav into the raw folder."""
    from .record import audio_backend, record, save_take

    project, params = project_and_params(args)
    vocabs = params["corpus"]["vocabs"]
    if args.vocab not in vocabs:
        raise UserError(f"unknown vocab {args.vocab!r} (known: {', '.join(vocabs)})")
    backend = backend or audio_backend()
    rate, words = params["audio"]["sample_rate"], vocabs[args.vocab]["words"]
    folder = Path(args.folder) if args.folder else project / params["paths"]["raw"]
    for _ in range(args.takes):
        print(f"Recording {args.vocab}: say each word when it appears, with a pause between.")
        samples = record(backend, words, rate, args.seconds)
        print(f"wrote {save_take(samples, folder, args.vocab, args.speaker, rate)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="speech-mnist", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    in_project = Parser(add_help=False)  # shared by the commands that use the pipeline's params or models
    in_project.add_argument("--project", metavar="DIR",
                            help="the speech-mnist project (default: the folder above here that holds dvc.yaml)")
    in_project.add_argument("--params", help="the pipeline's params (default: params.yaml of the project)")

    params = commands.add_parser(
        "params", help="compose conf/ into params.yaml (what `dvc exp run` does; plain `dvc repro` does not)",
        description="Compose conf/config.yaml with Hydra overrides into params.yaml. "
                    "Run it after editing conf/, then `dvc repro`.")
    params.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. stamp=mfcc train.epochs=5")
    params.add_argument("--conf", type=Path, help="config folder (default: the project's conf/)")
    params.add_argument("--output", type=output_file(".yaml"), help="where to write (default: the project's params.yaml)")
    params.add_argument("--project", metavar="DIR", help="the speech-mnist project (default: found from here)")
    params.set_defaults(run=cmd_params)

    predict = commands.add_parser(
        "predict", parents=[in_project], help="recognise the words in recordings with the pipeline's models",
        description="Segment each file into words with the pipeline's segmentation and params, and print each "
                    "word's start and end (s), the recognised word and its score: the CNN's probability, or "
                    "with --vocab of the transfer vocab the SVM's margin. A word whose score is below "
                    "reject.cnn (reject.svm) is 'unknown', with the word it is most like (reject.enabled=false: "
                    "never). Any format and rate soundfile reads. "
                    "Truncated or very quiet files are recognised with a warning on stderr.")
    predict.add_argument("files", nargs="+", help="audio files (wav, flac, ogg, mp3; any rate; mono or stereo)")
    predict.add_argument("--vocab", help="which vocab: the digits (the CNN, default) or the transfer vocab (the SVM)")
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    predict.add_argument("--speaker", action="store_true",
                         help="also say who speaks each word (the speaker SVM that train_svm fits)")
    predict.set_defaults(run=cmd_predict)

    inspect = commands.add_parser(
        "inspect", parents=[in_project], help="PNG of a recording's waveform, spectrogram, detected words and their stamps",
        description="Draw one recording as the pipeline sees it: waveform, spectrogram, band energy and noise "
                    "floor, the detected words, and each word's stamp. Tune conf/segment/ by looking at it.")
    inspect.add_argument("file", help="an audio file")
    inspect.add_argument("-o", "--output", type=output_file(".png"), help="PNG to write (default: <file>.inspect.png here)")
    inspect.add_argument("--words", type=positive_int, help="the number of words it says, if known")
    inspect.set_defaults(run=cmd_inspect)

    listen = commands.add_parser(
        "listen", parents=[in_project], help="turn stamps back into sound (Griffin-Lim)",
        description="Rebuild audio from stamps with Griffin-Lim (librosa), so you can hear what the network sees.")
    listen.add_argument("--stamps", help="a stamps dataset (default: the project's digit stamps)")
    listen.add_argument("--word", help="only stamps of this word")
    listen.add_argument("--count", type=positive_int, default=5, help="how many stamps, joined with pauses (default 5)")
    listen.add_argument("--seconds", type=word_seconds, default=0.5, help="length of each rebuilt word (default 0.5)")
    listen.add_argument("-o", "--output", type=output_file(".wav"), default="listen.wav",
                        help="WAV to write (default: listen.wav here)")
    listen.set_defaults(run=cmd_listen)

    rec = commands.add_parser(
        "record", parents=[in_project], help="record yourself saying a vocab into data/raw/",
        description="Prompt through a vocab's words and record one continuous take from the microphone "
                    "(sounddevice), written as <vocab>_<speaker>_<take>.wav for the folder corpus.")
    rec.add_argument("--vocab", default="num", help="which vocab to say (default: num)")
    rec.add_argument("--speaker", required=True, type=speaker_name, help="your name, without '_'")
    rec.add_argument("--takes", type=positive_int, default=1, help="how many takes (default 1)")
    rec.add_argument("--seconds", type=positive_float, default=1.5, help="time for each word (default 1.5)")
    rec.add_argument("--folder", help="where to write (default: the project's data/raw)")
    rec.set_defaults(run=cmd_record)

    ui = commands.add_parser("ui", help="start the MLflow UI on the project's tracking store",
                             description="Start `mlflow server` on the project's store (mlflow.db at the project "
                                         "root, or MLFLOW_TRACKING_URI) and print a link to its runs table. Select "
                                         "two or more evaluate runs, press Compare, and open confusion_cnn.png or "
                                         "confusion_svm.png under Artifacts to see them side by side.")
    ui.add_argument("--project", metavar="DIR", help="the speech-mnist project (default: found from here)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.add_argument("--open", action=argparse.BooleanOptionalAction, default=has_display(),
                    help="open the link in a browser (default: when there is a display)")
    ui.set_defaults(run=cmd_ui)

    compare = commands.add_parser(
        "compare", help="one PNG of where two evaluate runs' confusion matrices differ",
        description="Draw run B's CNN and SVM confusion matrices minus run A's, from the tables the two "
                    "evaluate runs logged to MLflow: blue where B puts more test words, red where fewer. "
                    "Name a run by its MLflow run id, its DVC experiment name, or its short commit.")
    compare.add_argument("run_a", metavar="A", help="the run to compare against (e.g. the baseline's short commit)")
    compare.add_argument("run_b", metavar="B", help="the run to look at (e.g. a DVC experiment's name)")
    compare.add_argument("--project", metavar="DIR", help="the speech-mnist project (default: found from here)")
    compare.add_argument("-o", "--output", type=output_file(".png"), default="compare.png",
                         help="PNG to write (default: compare.png here)")
    compare.set_defaults(run=cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as error:
        print(f"speech-mnist {args.command}: {first_line(error)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        if stdout_is_open():
            raise  # another pipe broke: a bug to see, not a reader that went away
        # `speech-mnist predict *.wav | head`: the reader has all it wants. Exit as a program that
        # SIGPIPE stopped (128 + 13), quietly; stdout to /dev/null so that exit's flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def stdout_is_open() -> bool:
    """Whether stdout still has a reader: a pipe whose reader has gone polls as an error."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return not any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (OSError, ValueError):  # no file descriptor to poll (e.g. stdout replaced in a test)
        return True


if __name__ == "__main__":
    sys.exit(main())
