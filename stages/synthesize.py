"""Stage synthesize: the corpus's continuous recordings -> data/recordings/.

Writes <vocab>_<speaker>_<take>.wav files and, where the words' true positions are known,
data/recordings/boundaries.csv. The corpus kind (conf/corpus/) says how:
espeak synthesises them, clips joins isolated real clips, folder copies your own as they are.
Beside real speech, corpus.espeak_takes adds eSpeak voices saying the digits (training only).
"""

import shutil
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from speech_mnist import corpus
from speech_mnist.config import load_params

OUT = Path("data/recordings")


def main() -> None:
    params = load_params()["corpus"]
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    kind = params["kind"]
    with tqdm(desc=f"synthesize ({kind})", unit="recording", disable=None) as progress:
        if kind == "espeak":
            boundaries = corpus.synthesize_espeak(params, OUT, progress)
        elif kind == "clips":
            boundaries = corpus.synthesize_clips(params, OUT, progress)
        elif kind == "folder":
            boundaries = corpus.copy_folder(params, OUT)
        else:
            raise SystemExit(f"corpus.kind must be espeak, clips or folder, not {kind!r}")
        if corpus.adds_voices(params):
            boundaries = pd.concat([boundaries, corpus.synthesize_extra_voices(params, OUT, progress)])
    boundaries.to_csv(OUT / "boundaries.csv", index=False, lineterminator="\n")
    print(f"{len(list(OUT.glob('*'))) - 1} recordings in {OUT}/")


if __name__ == "__main__":
    main()
