"""Byte-reproducible files: the same content always gives the same bytes, so DVC sees no change.

Arrays go to npz (loaded with allow_pickle=False), models to .keras and skops: no Python object serialisation.
"""

import io
import json
import re
import zipfile
from pathlib import Path

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


def save_npz(path: Path, /, **arrays: np.ndarray) -> None:
    """Like np.savez_compressed, but byte-identical for identical arrays.

    Each array is written straight into its zip entry, a few MiB at a time: a copy of it as
    bytes would double the memory a 100k-word features file needs.
    """
    arrays = {f"{name}.npy": np.asarray(array) for name, array in arrays.items()}
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"{name[:-4]}: object arrays cannot be stored safely; use a fixed-width string dtype")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            entry = zip_entry(name)
            entry.file_size = arrays[name].nbytes  # about what writestr tells zip (the header aside):
            # the same zip64 choice for any array far from 2 GiB
            with archive.open(entry, "w") as stream:
                np.lib.format.write_array(stream, arrays[name], allow_pickle=False)


def load_npz(path: Path, leave_out: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Every array of an .npz file but those named in `leave_out` (never read from disk)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files if name not in leave_out}


def write_metrics(path: Path, metrics: dict) -> None:
    """A stage's metrics file, as `dvc metrics` reads it: indented JSON, one trailing newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
