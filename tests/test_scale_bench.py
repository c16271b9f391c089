"""bench/scale.py's arithmetic, and the measuring harness it shares with bench/speed.py."""

import sys

import scale  # bench/, on the path through conftest
from workspace import measured


def test_corpus_grows_by_voices_then_by_takes():
    assert scale.corpus_size(1000, 14, 180) == (24, 3)      # 1008 words: the default's takes, fewer voices
    voices, takes = scale.corpus_size(100_000, 14, 180)
    assert (voices, takes) == (180, 40) and voices * takes * 14 >= 100_000  # every voice, then more takes


def test_epoch_seconds_from_the_keras_progress_line():
    output = "training on 780 stamps\nEpoch 1/1\n13/13 - 4s - 277ms/step - accuracy: 0.5\n"
    assert abs(scale.epoch_seconds(output) - 13 * 0.277) < 1e-9
    assert scale.epoch_seconds("no epoch here") != scale.epoch_seconds("no epoch here")  # nan: not a figure


def test_measured_sees_the_memory_and_output_of_a_process(tmp_path):
    run = measured([sys.executable, "-c", "import numpy as n; a = n.ones(300 * 2**20 // 8); print(a.sum() > 0)"], tmp_path)
    assert run.peak_mib > 300 and run.output.strip() == "True" and run.cpu_seconds > 0
