"""The `speech-mnist` command line (also `python -m speech_mnist`)."""

import argparse
import sys
from pathlib import Path


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


def cmd_predict(args) -> int:
    """Recognise the words of each file; one line of reason for a file that can't be read."""
    import json
    from dataclasses import asdict

    from .audio import BadAudio
    from .config import load_params
    from .recognise import ModelsMissing, Recogniser

    try:
        recogniser = Recogniser(load_params(args.params), args.vocab)
    except (ModelsMissing, ValueError, FileNotFoundError) as error:
        print(f"speech-mnist predict: {error}", file=sys.stderr)
        return 2
    status, report = 0, []
    for path in args.files:
        try:
            words = recogniser.recognise(Path(path))
        except (BadAudio, OSError) as error:
            print(f"{path}: cannot read: {str(error).splitlines()[0]}", file=sys.stderr)
            report.append({"file": path, "error": str(error)})
            status = 1
            continue
        report.append({"file": path, "words": [asdict(w) for w in words]})
        if not args.json:
            print(f"{path}: " + (f"{len(words)} word(s)" if words else "no speech"))
            for w in words:
                print(f"  {w.start:7.2f} {w.end:7.2f}  {w.word:<10} {w.score:8.4f}")
    if args.json:
        print(json.dumps(report, indent=2))
    return status


def cmd_inspect(args) -> int:
    """The seed's "play with segmentation" view of one recording, as a PNG."""
    from .audio import BadAudio, normalise_level, read_audio
    from .config import load_params
    from .segment import find_words
    from .views import plot_segmentation

    params = load_params(args.params)
    rate = params["audio"]["sample_rate"]
    try:
        samples = normalise_level(read_audio(args.file, rate), params["audio"]["peak_dbfs"])
    except (BadAudio, OSError) as error:
        print(f"{args.file}: cannot read: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    spans = find_words(samples, rate, params["segment"], args.words)
    output = Path(args.output or Path(args.file).with_suffix(".inspect.png").name)
    plot_segmentation(samples, rate, spans, params, output, f"{Path(args.file).name}: {len(spans)} words")
    print(f"{len(spans)} words: {', '.join(f'{a:.2f}-{b:.2f}s' for a, b in spans) or 'no speech'} -> {output}")
    return 0


def cmd_listen(args) -> int:
    """Audio rebuilt from stamps with Griffin-Lim: hear what the network sees."""
    import numpy as np

    from .audio import write_wav
    from .config import load_params
    from .files import load_npz
    from .views import NoAudio, stamp_to_audio

    params = load_params(args.params)
    rate, data = params["audio"]["sample_rate"], load_npz(args.stamps)
    picked = [i for i in range(len(data["x"])) if not args.word or data["word"][i] == args.word][: args.count]
    if not picked:
        print(f"no stamps of {args.word!r} in {args.stamps}", file=sys.stderr)
        return 1
    gap = np.zeros(int(0.3 * rate), np.float32)
    try:
        audio = np.concatenate([part for i in picked for part in
                                (stamp_to_audio(data["x"][i], rate, params["stamp"], args.seconds), gap)])
    except NoAudio as error:
        print(f"speech-mnist listen: {error}", file=sys.stderr)
        return 2
    write_wav(args.output, audio / (np.abs(audio).max() or 1) * 0.9, rate)
    print(f"{len(picked)} stamps ({', '.join(str(data['word'][i]) for i in picked)}) -> {args.output}")
    return 0


def cmd_record(args, backend=None) -> int:
    """Prompt through a vocab and write <vocab>_<speaker>_<take>.wav into the raw folder."""
    from .config import load_params
    from .record import NoAudioDevice, audio_backend, record, save_take

    params = load_params(args.params)
    vocabs = params["corpus"]["vocabs"]
    if args.vocab not in vocabs:
        print(f"speech-mnist record: unknown vocab {args.vocab!r} (known: {', '.join(vocabs)})", file=sys.stderr)
        return 2
    try:
        backend = backend or audio_backend()
    except NoAudioDevice as error:
        print(f"speech-mnist record: {error}", file=sys.stderr)
        return 2
    rate, words = params["audio"]["sample_rate"], vocabs[args.vocab]["words"]
    for _ in range(args.takes):
        print(f"Recording {args.vocab}: say each word when it appears, with a pause between.")
        samples = record(backend, words, rate, args.seconds)
        print(f"wrote {save_take(samples, Path(args.folder), args.vocab, args.speaker, rate)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="speech-mnist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    pipeline_params = argparse.ArgumentParser(add_help=False)  # shared by the commands that use the models
    pipeline_params.add_argument("--params", default="params.yaml", help="the pipeline's params (default: params.yaml)")

    params = commands.add_parser(
        "params", help="compose conf/ into params.yaml (what `dvc exp run` does; plain `dvc repro` does not)",
        description="Compose conf/config.yaml with Hydra overrides into params.yaml. "
                    "Run it after editing conf/, then `dvc repro`.")
    params.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. stamp=mfcc train.epochs=5")
    params.add_argument("--conf", default="conf", help="config folder (default: conf)")
    params.add_argument("--output", default="params.yaml", help="where to write (default: params.yaml)")
    params.set_defaults(run=cmd_params)

    predict = commands.add_parser(
        "predict", parents=[pipeline_params], help="recognise the words in recordings with the pipeline's models",
        description="Segment each file into words with the pipeline's segmentation and params, and print each "
                    "word's start and end (s), the recognised word and its score: the CNN's probability, or "
                    "with --vocab the transfer SVM's margin. Any format and rate soundfile reads.")
    predict.add_argument("files", nargs="+", help="audio files (wav, flac, ogg, mp3; any rate; mono or stereo)")
    predict.add_argument("--vocab", help="use the transfer SVM of this vocab (e.g. animals) instead of the digit CNN")
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    predict.set_defaults(run=cmd_predict)

    inspect = commands.add_parser(
        "inspect", parents=[pipeline_params], help="PNG of a recording's waveform, spectrogram, detected words and their stamps",
        description="Draw one recording as the pipeline sees it: waveform, spectrogram, band energy and noise "
                    "floor, the detected words, and each word's stamp. Tune conf/segment/ by looking at it.")
    inspect.add_argument("file", help="an audio file")
    inspect.add_argument("-o", "--output", help="PNG to write (default: <file>.inspect.png here)")
    inspect.add_argument("--words", type=int, help="the number of words it says, if known")
    inspect.set_defaults(run=cmd_inspect)

    listen = commands.add_parser(
        "listen", parents=[pipeline_params], help="turn stamps back into sound (Griffin-Lim)",
        description="Rebuild audio from stamps with Griffin-Lim (librosa), so you can hear what the network sees.")
    listen.add_argument("--stamps", default="data/stamps/num.npz", help="a stamps dataset (default: digits)")
    listen.add_argument("--word", help="only stamps of this word")
    listen.add_argument("--count", type=int, default=5, help="how many stamps, joined with pauses (default 5)")
    listen.add_argument("--seconds", type=float, default=0.5, help="length of each rebuilt word (default 0.5)")
    listen.add_argument("-o", "--output", default="listen.wav")
    listen.set_defaults(run=cmd_listen)

    rec = commands.add_parser(
        "record", parents=[pipeline_params], help="record yourself saying a vocab into data/raw/",
        description="Prompt through a vocab's words and record one continuous take from the microphone "
                    "(sounddevice), written as <vocab>_<speaker>_<take>.wav for the folder corpus.")
    rec.add_argument("--vocab", default="num", help="which vocab to say (default: num)")
    rec.add_argument("--speaker", required=True, help="your name, without '_'")
    rec.add_argument("--takes", type=int, default=1, help="how many takes (default 1)")
    rec.add_argument("--seconds", type=float, default=1.5, help="time for each word (default 1.5)")
    rec.add_argument("--folder", default="data/raw", help="where to write (default: data/raw)")
    rec.set_defaults(run=cmd_record)

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
