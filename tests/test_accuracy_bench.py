"""bench/accuracy.py's reading of -S overrides."""

import accuracy  # bench/, on the path through conftest


def test_a_chosen_draw_of_voices_is_seen_however_the_override_is_spelled():
    """-S corpus.voices.seed=N runs that one draw instead of the three: `+` and `++` spell it too."""
    for spelled in ("corpus.voices.seed=5", "++corpus.voices.seed=5", "+corpus.voices.seed=5"):
        assert "corpus.voices.seed" in accuracy.override_keys(["transfer=logits", spelled])
    assert "corpus.voices.seed" not in accuracy.override_keys(["corpus.seed=5", "corpus.voices.count=16"])
