"""The trained CNN at predict time, without TensorFlow: its LiteRT file (models.save_lite).

Importing TensorFlow takes about 4 s on a 2-core machine, most of what `speech-mnist predict`
needs to answer. The LiteRT interpreter loads in a tenth of a second and runs the same
network (its outputs agree with Keras's within 1e-4, tests/test_lite.py). A LiteRT file is
a flatbuffer of built-in operators and weights: the interpreter refuses any other operator,
so loading one never runs code.
"""

from pathlib import Path

import numpy as np

from .errors import ModelMismatch, ModelUnreadable, first_line
from .models import LITE_BATCH as BATCH

MAGIC = b"TFL3"  # a LiteRT flatbuffer's file identifier, at bytes 4..8


class LiteCnn:
    """The CNN's outputs by name (probabilities, logits, embedding, conv, stamp), as models.outputs gives them."""

    def __init__(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        content = Path(path).read_bytes()
        if content[4:8] != MAGIC:  # e.g. an error page saved under its name, or a half-fetched file
            raise ModelUnreadable(f"{path} cannot be loaded: it is not a LiteRT model (damaged, or not fully fetched?)")
        try:
            # the built-in kernels only: the XNNPACK delegate prints a line on every load, and at
            # 0.2 ms a word these are not what predict waits for
            self._run = Interpreter(model_content=content, experimental_op_resolver_type=
                                    OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES).get_signature_runner()
            self._input, details = next(iter(self._run.get_input_details().items()))
        except Exception as error:  # LiteRT raises ValueError or RuntimeError with long messages
            raise ModelUnreadable(f"{path} cannot be loaded: {first_line(error)}") from error
        self.path, self.stamp_shape = Path(path), tuple(int(n) for n in details["shape"][1:])

    def outputs(self, stamps: np.ndarray) -> dict[str, np.ndarray]:
        """(n, bands, frames, 1) stamps -> {output name: (n, ...) float32}, BATCH stamps a call;
        ModelMismatch for stamps of another shape than the network was trained on."""
        if tuple(stamps.shape[1:]) != self.stamp_shape:
            raise ModelMismatch(f"{self.path} was trained on {shape(self.stamp_shape)} stamps, and params.yaml's "
                                f"stamp settings make {shape(stamps.shape[1:])}: run `dvc repro` to train it anew")
        parts = []
        for first in range(0, max(len(stamps), 1), BATCH):  # no stamps: one call, for the shapes
            given = stamps[first:first + BATCH]
            batch = np.zeros((BATCH, *stamps.shape[1:]), np.float32)  # the last one padded
            batch[:len(given)] = given
            parts.append({name: array[:len(given)] for name, array in self._run(**{self._input: batch}).items()})
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def shape(stamp_shape) -> str:
    """(96, 3, 1) -> "96x3": a stamp's bands and frames, as a person reads them."""
    return "x".join(str(n) for n in stamp_shape[:2])
