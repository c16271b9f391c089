"""Stage synthesize: the corpus's continuous recordings -> data/recordings/.

Writes <vocab>_<speaker>_<take>.wav files and, where the words' true positions are known,
data/recordings/boundaries.csv. The corpus kind (conf/corpus/) says how:
espeak synthesises them, clips joins isolated real clips, folder copies your own as they are.
Beside real speech, corpus.espeak_takes adds eSpeak voices saying the digits (training only).
"""

import shutil

import pandas as pd
from tqdm import tqdm

from speech_mnist import corpus
from speech_mnist.config import load_params, stage_paths
from speech_mnist.errors import run_stage


def main() -> None:
    params = load_params()
    out = stage_paths(params).recordings
    params = params["corpus"]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    kind = params["kind"]
    with tqdm(desc=f"synthesize ({kind})", unit="recording", disable=None) as progress:
        if kind == "espeak":
            boundaries = corpus.synthesize_espeak(params, out, progress)
        elif kind == "clips":
            boundaries = corpus.synthesize_clips(params, out, progress)
        elif kind == "folder":
            boundaries = corpus.copy_folder(params, out)
        else:
            raise SystemExit(f"corpus.kind must be espeak, clips or folder, not {kind!r}")
        if corpus.adds_voices(params):
            boundaries = pd.concat([boundaries, corpus.synthesize_extra_voices(params, out, progress)])
    boundaries.to_csv(out / "boundaries.csv", index=False, lineterminator="\n")
    print(f"{len(list(out.glob('*'))) - 1} recordings in {out}/")


if __name__ == "__main__":
    run_stage(main)
