"""Stage train_svm: the transfer vocab, learned from k examples per word -> models/svm.skops.

What the digit CNN made of each word of the transfer vocab (data/features/, from train_cnn): its
logits, its embedding, its last conv block, or its input, the stamp (transfer.features), are the features of a
scikit-learn SVM fitted on `transfer.shots` training examples per word, and on every training
word of corpus.unknown as one more class, "unknown".
The second transfer task, who is speaking, fits another SVM on `speakers.shots` words of each
speaker of the digit vocab (speakers.features: their voiceprints; for word_voice with their average
stamp frames, less each word's average print; their stamps; or the CNN's outputs) -> models/speakers/.
"""
import shutil

from speech_mnist import speakers, tracking, transfer
from speech_mnist.config import load_params, stage_paths
from speech_mnist.errors import run_stage
from speech_mnist.files import write_metrics
from speech_mnist.stamps import load_split


def train_speaker_svm(params: dict, paths) -> None:
    settings, digits = params["speakers"], params["corpus"]["digits"]
    shutil.rmtree(paths.speakers, ignore_errors=True)
    paths.speakers.mkdir(parents=True)
    try:
        who = speakers.speaker_words(paths.stamps / f"{digits}.npz", paths.features / f"{digits}.npz", settings)
    except speakers.SpeakersMissing as reason:
        speakers.save_unavailable(str(reason), paths.speakers)
        print(f"{reason}; no speaker model")
        return
    svm = transfer.fit_shots(who.x[who.train], who.y[who.train], settings, settings["shots"], settings["seed"])
    speakers.save(speakers.SpeakerModel(svm, who.names, settings["features"], who.word_means, who.stamp_scale), paths.speakers)
    taken = transfer.shots_taken(who.y[who.train], settings["shots"])
    each = f"up to {settings['shots']} words ({taken} of the fewest)" if taken < settings["shots"] else f"{taken} words"
    print(f"speakers: SVM on {each} of each of {len(who.names)} speakers ({settings['features']})")


def main() -> None:
    params = load_params()
    paths = stage_paths(params)
    settings, vocab = params["transfer"], params["corpus"]["transfer"]
    features, y, info = load_split(paths.features / f"{vocab}.npz", "train", settings["features"])
    other = paths.features / f"{params['corpus'].get('unknown')}.npz"  # every training word of it: "unknown"
    unknown = load_split(other, "train", settings["features"])[0] if other.exists() else None
    with tracking.StageRun("train_svm", params) as run:  # MLflow loads in a helper process meanwhile
        svm = transfer.fit_shots(features, y, settings, settings["shots"], settings["seed"],
                                 unknown, unknown_label=len(info["vocab"]))
        train_accuracy = float(svm.score(features, y))  # on all training words, not just the k shots
        run.log_metrics({"train_accuracy": train_accuracy})
        transfer.save_svm(svm, paths.svm)
        train_speaker_svm(params, paths)
    write_metrics(paths.metrics / "train_svm.json",
                  {"shots": settings["shots"], "words": info["vocab"], "train_accuracy": round(train_accuracy, 4)})
    taken = transfer.shots_taken(y, settings["shots"])  # fewer where a word's training words run out
    each = f"up to {settings['shots']} shots ({taken} of the rarest word)" if taken < settings["shots"] else f"{taken} shots"
    print(f"{vocab}: SVM on {each} per word, {train_accuracy:.1%} on all {len(y)} training words")


if __name__ == "__main__":
    run_stage(main)
