"""What a recording is called: `<vocab>_<speaker>_<take>.<ext>`, saying the vocab's words in order."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RecordingName:
    vocab: str
    speaker: str
    take: int

    @property
    def stem(self) -> str:
        return f"{self.vocab}_{self.speaker}_{self.take}"


def parse_recording_name(path: str | Path) -> RecordingName:
    """`num_alice_3.wav` -> RecordingName("num", "alice", 3); ValueError with the reason otherwise."""
    parts = Path(path).stem.split("_")
    if len(parts) != 3 or not all(parts) or not parts[2].isdigit():
        raise ValueError(f"name is not <vocab>_<speaker>_<take> with a numeric take: {Path(path).name}")
    return RecordingName(parts[0], parts[1], int(parts[2]))
