"""Splitting a continuous recording into words on the silences between them.

The seed thresholded log-energy at min + 25% of its range, which fails on noise and on words
that are quieter than their neighbours. Here the threshold is measured from the recording's own
running noise floor and chosen where the word count is steadiest; clicks are dropped, short pauses
bridged, and each word's edges widened over weak onsets and then trimmed to its own dynamic range.
"""

from dataclasses import dataclass

import numpy as np


def power_spectrogram(samples: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(n_fft // 2 + 1, frames) |STFT|^2: a periodic Hann window centred every `hop` samples, zeros
    beyond the ends. The bytes librosa.stft's defaults give (tests/test_segment.py), with numpy alone:
    librosa's first call imports scipy.signal, two seconds of every `speech-mnist predict`."""
    angle = np.linspace(-np.pi, np.pi, n_fft + 1)[:-1]  # scipy's periodic Hann, term by term
    window = np.zeros(n_fft) + 0.5 * np.cos(0 * angle) + 0.5 * np.cos(angle)
    padded = np.pad(samples, n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spectrum = np.fft.rfft(window * frames, axis=-1).astype(np.result_type(samples.dtype, np.complex64))
    return (np.abs(spectrum) ** 2).T


def band_energy_db(samples: np.ndarray, sample_rate: int, params: dict) -> np.ndarray:
    """Per-frame energy in dB within the speech band."""
    hop = int(sample_rate * params["hop_ms"] / 1000)
    n_fft = int(2 ** np.ceil(np.log2(sample_rate * params["frame_ms"] / 1000)))
    power = power_spectrogram(samples, n_fft, hop)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    low, high = params["band_hz"]
    band = (freqs >= low) & (freqs <= min(high, sample_rate / 2))
    energy = 10 * np.log10(power[band].sum(axis=0) + 1e-10)
    return np.convolve(energy, np.ones(3) / 3, mode="same")  # smooth single-frame dips


def noise_floor(energy: np.ndarray, params: dict) -> np.ndarray:
    """Per-frame noise floor: a low percentile of the energy within a window around the frame.

    Room noise changes level during a recording, so one global floor would either swallow
    the pauses of a noisy stretch or miss the quiet words of a clean one.
    """
    from scipy.ndimage import percentile_filter

    window = max(3, int(params["floor_window_s"] * 1000 / params["hop_ms"]))
    return percentile_filter(energy, params["floor_percentile"], size=window, mode="nearest")


@dataclass(frozen=True)
class Found:
    """The words of a recording, and how far their count can be trusted."""

    spans: list[tuple[float, float]]  # (start, end) in seconds of each word, without padding
    steady_db: float  # the span of threshold levels, in dB, that all give this many words


def locate_words(samples: np.ndarray, sample_rate: int, params: dict, expected: int | None = None) -> Found:
    """The words of a recording, with the steadiness of their count.

    Words are runs of frames above a level over the noise floor. Which level? The one in the
    middle of the widest range of levels that all give the same number of words: the count
    that least depends on the threshold. When the recording is known to say `expected`
    words, only levels giving that count are considered (if none does, the closest count
    wins and the caller sees the mismatch). A narrow range means the count is a guess: a
    noise burst may have been taken for a word while a quiet word was missed.
    """
    if samples.size == 0 or not np.any(samples):
        return Found([], 0.0)
    energy = band_energy_db(samples, sample_rate, params)
    floor = noise_floor(energy, params)
    if np.max(energy - floor) < params["speech_db"]:
        return Found([], 0.0)  # nothing stands out of the noise: silence, hum or steady noise
    hop_s = params["hop_ms"] / 1000
    levels = np.arange(params["min_db"], params["max_db"] + 1e-9, params["step_db"])
    counts = _word_counts(energy, floor, levels, hop_s, params)
    level, run = _steadiest_level(levels, counts, expected)
    if level is None:
        return Found([], 0.0)
    spans = _spans_above(energy, floor + level, hop_s, params)
    spans = _widen(spans, energy, floor + min(level, params["edge_db"]), hop_s, params)
    spans = [_tighten(span, energy, hop_s, params["word_range_db"]) for span in spans]
    return Found([(round(a, 4), round(b, 4)) for a, b in spans], run * params["step_db"])


def _spans_above(energy, threshold, hop_s, params) -> list[tuple[float, float]]:
    """Runs of frames above `threshold`: short bursts dropped, then short pauses bridged.

    Dropping first keeps a click in a pause from joining the words on either side.
    """
    above = np.concatenate([[False], energy > threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    runs = [(a * hop_s, b * hop_s) for a, b in zip(edges[::2], edges[1::2])]
    spans = _bridge_gaps([(a, b) for a, b in runs if b - a >= params["min_burst_s"]], params["min_gap_s"])
    return [(a, b) for a, b in spans if b - a >= params["min_word_s"]]


def _word_counts(energy, floor, levels, hop_s, params) -> np.ndarray:
    """len(_spans_above(energy, floor + level, ...)) for every level, all levels at once: the same
    runs, bursts, bridges and lengths, as arrays (a Python loop over the levels cost predict a
    fifth of its time per recording)."""
    above = np.zeros((len(levels), len(energy) + 2), np.int8)
    above[:, 1:-1] = energy[None, :] > floor[None, :] + levels[:, None]
    level, edge = np.nonzero(np.diff(above, axis=1))  # row by row: each level's rises and falls, paired
    start, end, level = edge[0::2] * hop_s, edge[1::2] * hop_s, level[0::2]
    burst = end - start >= params["min_burst_s"]
    start, end, level = start[burst], end[burst], level[burst]
    if not len(start):
        return np.zeros(len(levels), np.int64)
    first = np.r_[True, (level[1:] != level[:-1]) | (start[1:] - end[:-1] >= params["min_gap_s"])]
    last = np.r_[first[1:], True]  # a span runs from its first run's start to its last run's end
    words = end[last] - start[first] >= params["min_word_s"]
    return np.bincount(level[first][words], minlength=len(levels)).astype(np.int64)


def _steadiest_level(levels: np.ndarray, counts: np.ndarray, expected: int | None) -> tuple[float | None, int]:
    """The middle level of the longest run of equal, non-zero counts (restricted to `expected`),
    and the run's length in levels."""
    if expected is not None and expected in counts:
        allowed = counts == expected
    elif expected is not None and counts.max() > 0:
        allowed = counts == counts[np.argmin(np.abs(counts - expected))]
    else:
        allowed = counts > 0
    best, best_len, i = None, 0, 0
    while i < len(levels):
        j = i
        while j + 1 < len(levels) and allowed[i] and counts[j + 1] == counts[i]:
            j += 1
        if allowed[i] and j - i + 1 > best_len:
            best, best_len = (levels[i] + levels[j]) / 2, j - i + 1
        i = j + 1
    return best, best_len


def _widen(spans, energy, edge_level, hop_s, params) -> list[tuple[float, float]]:
    """Grow each span over the weak frames at its edges (onsets, fricatives), not into its neighbours.

    A word's end may be a stop's release after a short closure (the t of "eight", "cat",
    "left"): the end jumps a dip of up to `closure_s` to a release standing `release_db` over
    the edge level (noise that merely hovers at the edge level is not a release).
    """
    frames = [(int(round(a / hop_s)), int(round(b / hop_s))) for a, b in spans]
    closure = int(round(params["closure_s"] / hop_s))
    widened = []
    for k, (a, b) in enumerate(frames):
        lower = widened[-1][1] if widened else 0
        upper = frames[k + 1][0] if k + 1 < len(frames) else len(energy)
        while a > lower and energy[a - 1] > edge_level[a - 1]:
            a -= 1
        while b < upper:
            if energy[b] > edge_level[b]:
                b += 1
                continue
            ahead = slice(b, min(upper, b + closure + 1))
            release = np.flatnonzero(energy[ahead] > edge_level[ahead] + params["release_db"])
            if not release.size:
                break
            b += release[0] + 1
        widened.append((a, b))
    return [(a * hop_s, b * hop_s) for a, b in widened]


def _tighten(span, energy, hop_s, range_db) -> tuple[float, float]:
    """Trim a word's edges to the frames within `range_db` of its loudest frame."""
    a, b = int(round(span[0] / hop_s)), int(round(span[1] / hop_s))
    loud = np.flatnonzero(energy[a:b] >= energy[a:b].max() - range_db)
    return ((a + loud[0]) * hop_s, (a + loud[-1] + 1) * hop_s) if loud.size else span


def _bridge_gaps(spans: list[tuple[float, float]], min_gap: float) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def cut(samples: np.ndarray, sample_rate: int, span: tuple[float, float], pad_s: float) -> np.ndarray:
    start = max(0, int((span[0] - pad_s) * sample_rate))
    end = min(len(samples), int((span[1] + pad_s) * sample_rate))
    return samples[start:end]


# --- scoring against true boundaries ---------------------------------------------------------


def overlap(a, b):
    """How long spans a and b (start, end) share, in their unit; 0 when apart. Works on arrays too."""
    return np.maximum(0.0, np.minimum(a[1], b[1]) - np.maximum(a[0], b[0]))


def match_words(found: list[tuple[float, float]], truth: list[tuple[float, float]], min_overlap: float = 0.5):
    """Pairs (i_found, i_true) where the spans overlap by at least `min_overlap` of their union."""
    pairs, used = [], set()
    for j, (ts, te) in enumerate(truth):
        best, best_iou = None, min_overlap
        for i, (fs, fe) in enumerate(found):
            if i in used:
                continue
            inter = overlap((fs, fe), (ts, te))
            union = max(fe, te) - min(fs, ts)
            if union > 0 and inter / union >= best_iou:
                best, best_iou = i, inter / union
        if best is not None:
            used.add(best)
            pairs.append((best, j))
    return pairs


def score(results: list[tuple[list, list]]) -> dict:
    """Segmentation metrics over (found, truth) span lists of recordings with known truth."""
    if not results:
        return {}
    errors, matched, n_found, n_true, right_count = [], 0, 0, 0, 0
    for found, truth in results:
        pairs = match_words(found, truth)
        matched += len(pairs)
        n_found += len(found)
        n_true += len(truth)
        right_count += len(found) == len(truth)
        for i, j in pairs:
            errors += [abs(found[i][0] - truth[j][0]), abs(found[i][1] - truth[j][1])]
    errors_ms = np.array(errors) * 1000 if errors else np.array([np.nan])
    return {
        "recordings_scored": len(results),
        "right_count_rate": round(right_count / len(results), 4),
        "boundary_error_ms_median": round(float(np.median(errors_ms)), 1),
        "boundary_error_ms_p95": round(float(np.percentile(errors_ms, 95)), 1),
        "word_precision": round(matched / n_found, 4) if n_found else 0.0,
        "word_recall": round(matched / n_true, 4) if n_true else 0.0,
    }


def labelled_right(words, truth) -> float:
    """Share of written words whose label is the true word they overlap most.

    A count that is right by accident (a noise burst in, a quiet word out) shifts every label
    after it by one word: these words train and test the CNN under their neighbour's name.
    """
    words = words[words["recording"].isin(truth["recording"])]  # only where the truth is known
    truth_of = dict(tuple(truth.groupby("recording")))
    right = 0
    for word in words.itertuples():
        table = truth_of[word.recording]
        shared = overlap((word.start, word.end), (table["start"].to_numpy(), table["end"].to_numpy()))
        right += shared.max() > 0 and table["word"].iloc[int(np.argmax(shared))] == word.word
    return round(right / len(words), 4) if len(words) else 0.0


def segmentation_metrics(found: dict, truth, recordings: int, rejected: int, words=None) -> dict:
    """The segment stage's metrics; `found` maps recording -> spans, `truth` is boundaries.csv,
    `words` the manifest of the words written."""
    metrics = {
        "recordings": recordings,
        "rejected": rejected,
        "right_count_rate": round((recordings - rejected) / recordings, 4) if recordings else 0.0,
    }
    for vocab, table in sorted(truth.groupby("vocab")):
        pairs = [(found.get(rec, []), list(zip(g["start"], g["end"]))) for rec, g in sorted(table.groupby("recording"))]
        metrics[f"truth_{vocab}"] = score(pairs)
        if words is not None:
            metrics[f"truth_{vocab}"]["words_labelled_right"] = labelled_right(words[words["vocab"] == vocab], table)
    return metrics
