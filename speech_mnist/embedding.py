"""Google's speech embedding, the pretrained stamp: the two ONNX models that openwakeword's wheel
carries, run with onnxruntime directly.

The same numbers as openwakeword's AudioFeatures.embed_clips (tests/test_stamps.py checks the
bytes), without importing openwakeword: its package imports scikit-learn on the way, 1.3 s of
every `speech-mnist predict` and every stage that makes stamps.

openwakeword cuts a clip into windows of 76 mel frames, 8 apart, and runs the model on each.
The model is convolutions and poolings only, none padded along time, and its poolings halve time
three times: run on the whole clip, it gives the same numbers for the same windows, each 8 frames
after the last, with the work the windows share done once (bench/speed.py: the embedding of a
1.0 s clip, 3 windows and its mel frames, 4.8 -> 2.3 ms of CPU; 16 windows about 4x faster).
The ONNX file fixes its input at 76 frames, so the graph is loaded with the `onnx` package and
its time axis freed (`whole_clip_model`).
"""

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

RATE = 16000          # the models read 16 kHz, 16-bit PCM
MEL_BANDS = 32        # a mel frame every 10 ms
WINDOW, STEP = 76, 8  # one embedding of 96 numbers for every 76 frames (0.775 s), every 8 frames (80 ms)
CLIP_BATCH = 32       # clips per call of the embedding model: a clip's numbers do not depend on the others


@cache
def _sessions():
    """The mel-spectrogram and embedding models, on two threads (twice as fast as one, the same bytes)."""
    import onnxruntime

    spec = importlib.util.find_spec("openwakeword")  # finds the package without running its imports
    folder = Path(spec.submodule_search_locations[0]) / "resources" / "models"
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = options.intra_op_num_threads = 2
    # no busy-waiting between calls: predict cuts recordings in another process meanwhile
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return tuple(onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
                 for model in (str(folder / "melspectrogram.onnx"),
                               whole_clip_model(folder / "embedding_model.onnx")))


def whole_clip_model(path: Path) -> bytes:
    """The embedding model with its time axis freed: (clips, frames, 32, 1) mel frames in,
    (clips, windows, 1, 96) out, a window for every 8 frames after the first 76.

    Two nodes change. The input reshape to (clips, 1, 76, 32) keeps the frames there are, and
    the output reshape to (clips, 1, 1, 96), right only for one window, becomes a transpose of the
    last convolution's (clips, 96, windows, 1). Every other node already works on any length."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    first, last = model.graph.node[0], model.graph.node[-1]
    constants = {i.name: i for i in model.graph.initializer}
    expected = {first.input[1]: [-1, 1, WINDOW, MEL_BANDS], last.input[1]: [-1, 1, 1, 96]}
    if first.op_type != "Reshape" or last.op_type != "Reshape" or any(
            name not in constants or numpy_helper.to_array(constants[name]).tolist() != shape
            for name, shape in expected.items()):
        raise RuntimeError(f"{path} is not the embedding model this code knows: check whole_clip_model")
    into, out_of, output_shape = last.input[0], last.output[0], constants[last.input[1]]
    constants[first.input[1]].CopyFrom(numpy_helper.from_array(np.array([0, 1, -1, MEL_BANDS], np.int64), first.input[1]))
    model.graph.node.remove(last)
    model.graph.node.append(helper.make_node("Transpose", [into], [out_of], perm=[0, 2, 3, 1]))
    model.graph.initializer.remove(output_shape)
    for value, axis in ((model.graph.input[0], "frames"), (model.graph.output[0], "windows")):
        value.type.tensor_type.shape.dim[1].dim_param = axis  # was 76 frames, 1 window
    onnx.checker.check_model(model)
    return model.SerializeToString()


def mel_frames(pcm: np.ndarray) -> np.ndarray:
    """(frames, MEL_BANDS) of one clip of int16 PCM, scaled as openwakeword scales them (closer to
    Google's TensorFlow original). One clip per call: a batch of clips gives other numbers."""
    mel, _ = _sessions()
    return mel.run(None, {"input": pcm[None].astype(np.float32)})[0].reshape(-1, MEL_BANDS) / 10 + 2


def embed(pcm: np.ndarray) -> np.ndarray:
    """(clips, samples) int16 PCM at 16 kHz, all of one length -> (clips, windows, 96) embeddings."""
    _, model = _sessions()
    mel = np.stack([mel_frames(clip) for clip in pcm])
    count = (mel.shape[1] - WINDOW) // STEP + 1
    if count < 1:
        raise ValueError(f"the embedding needs clips of at least {(WINDOW + 3) * 10} ms, not {pcm.shape[1] * 1000 // RATE} ms")
    # up to the end of the last whole window: openwakeword has no window for the frames after it
    mel = mel[:, :(count - 1) * STEP + WINDOW, :, None]
    found = [model.run(None, {"input_1": mel[i:i + CLIP_BATCH]})[0] for i in range(0, len(mel), CLIP_BATCH)]
    return np.concatenate(found).reshape(len(pcm), count, -1)
