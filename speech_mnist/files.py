"""Byte-reproducible files: the same content always gives the same bytes, so DVC sees no change.

Arrays go to npz (loaded with allow_pickle=False), models to .keras and skops: no Python object serialisation.
"""

import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np


def zip_entry(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date and mode (zip stamps the time by default)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def write_zip(path: Path, entries: dict[str, bytes]) -> None:
    """A zip archive with sorted entries, each with a fixed date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            archive.writestr(zip_entry(name), entries[name])


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(Path(path).read_bytes())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


class FormatChanged(RuntimeError):
    """A library wrote a model file unlike the one these rewrites expect: check them after an upgrade
    rather than write a subtly different model."""


def renumber_object_ids(text: str, keys: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Replace the memory addresses (Python id()s) that Keras and skops write as object ids, under
    the given JSON keys, with 1, 2, ... in order of appearance. Returns the text and the mapping.

    FormatChanged when no key is found: the library no longer writes what is being rewritten.
    """
    mapping: dict[str, str] = {}
    pattern = re.compile(r'("(?:%s)": "?)(\d+)' % "|".join(map(re.escape, keys)))

    def renumber(match: re.Match) -> str:
        return match.group(1) + mapping.setdefault(match.group(2), str(len(mapping) + 1))

    renumbered = pattern.sub(renumber, text)
    if not mapping:
        raise FormatChanged(f"no object ids under {', '.join(keys)}: the saved file's format has changed")
    return renumbered, mapping


class Streamed(NamedTuple):
    """An array too large to hold at once, for save_npz: its dtype and shape, and its rows in
    order, a chunk at a time (each chunk is made only when its turn to be written comes)."""
    dtype: np.dtype
    shape: tuple[int, ...]
    chunks: Iterable[np.ndarray]


class StoredArray:
    """One array of an .npz file, read a chunk of rows at a time: never whole in memory. Its
    shape and dtype come from the array's .npy header."""

    def __init__(self, path: Path, name: str):
        self.path, self.name = Path(path), name
        with zipfile.ZipFile(self.path) as archive, archive.open(f"{name}.npy") as stream:
            self.shape, self.dtype = _npy_header(stream)

    def __len__(self) -> int:
        return self.shape[0]

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """The array, `rows` rows at a time, in order."""
        row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        with zipfile.ZipFile(self.path) as archive, archive.open(f"{self.name}.npy") as stream:
            _npy_header(stream)
            for first in range(0, len(self), rows):
                count = min(rows, len(self) - first)
                data = stream.read(count * row_bytes)  # zip reads until it has them all, or the entry ends
                if len(data) != count * row_bytes:
                    raise ValueError(f"{self.path}: {self.name} ends after {first} of its {len(self)} rows")
                yield np.frombuffer(data, self.dtype).reshape(count, *self.shape[1:])


def _npy_header(stream) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype of the C-ordered .npy array whose bytes `stream` starts with."""
    version = np.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f".npy format {version[0]}.{version[1]} is not read in chunks")
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(stream)
    if fortran_order or dtype.hasobject:
        raise ValueError("only C-ordered arrays of plain numbers are read in chunks")
    return shape, dtype


def save_npz(path: Path, /, **arrays: "np.ndarray | Streamed") -> None:
    """Like np.savez_compressed, but byte-identical for identical arrays.

    Each array is written straight into its zip entry, a few MiB at a time: a copy of it as
    bytes would double the memory a 100k-word features file needs. A Streamed array is never
    whole in memory, and gives the same bytes as the array its chunks make.
    """
    arrays = {f"{name}.npy": a if isinstance(a, Streamed) else np.asarray(a) for name, a in arrays.items()}
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"{name[:-4]}: object arrays cannot be stored safely; use a fixed-width string dtype")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            array = arrays[name]
            entry = zip_entry(name)
            entry.file_size = int(np.prod(array.shape)) * np.dtype(array.dtype).itemsize  # about what writestr
            # tells zip (the header aside): the same zip64 choice for any array far from 2 GiB
            with archive.open(entry, "w") as stream:
                if isinstance(array, Streamed):
                    write_streamed(stream, array)
                else:
                    np.lib.format.write_array(stream, array, allow_pickle=False)


def write_streamed(stream, array: Streamed) -> None:
    """The .npy bytes np.lib.format.write_array writes for the array that the chunks make."""
    dtype = np.dtype(array.dtype)
    np.lib.format.write_array_header_1_0(stream, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                  "fortran_order": False, "shape": tuple(map(int, array.shape))})
    rows = 0
    for chunk in array.chunks:
        chunk = np.ascontiguousarray(chunk, dtype=dtype)
        if chunk.shape[1:] != tuple(array.shape[1:]):
            raise ValueError(f"a chunk of shape {chunk.shape} in an array of shape {array.shape}")
        stream.write(memoryview(chunk).cast("B"))  # the chunk's bytes, not a copy of them
        rows += len(chunk)
    if rows != array.shape[0]:
        raise ValueError(f"the chunks made {rows} rows of an array of {array.shape[0]}")


def load_npz(path: Path, leave_out: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Every array of an .npz file but those named in `leave_out` (never read from disk)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files if name not in leave_out}


def write_metrics(path: Path, metrics: dict) -> None:
    """A stage's metrics file, as `dvc metrics` reads it: indented JSON, one trailing newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
