"""eSpeak NG through ctypes, from the bundled library of the `espeakng-loader` wheel.

No system espeak is needed. eSpeak keeps state between calls in one process, so the same
word synthesised twice in a row may differ; the same *sequence* of calls in a fresh process
gives the same bytes. Callers that want reproducible audio therefore synthesise in a fixed
order, in one process (the synthesize stage does).
"""

import ctypes

import numpy as np

from .errors import ConfigError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4}

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Espeak:
    """One initialised eSpeak NG engine that returns int16 samples instead of playing them."""

    _instance = None

    def __new__(cls):
        # libespeak-ng holds global state: one engine per process.
        if cls._instance is None:
            cls._instance = super().__new__(cls)
            cls._instance._start()
        return cls._instance

    def _start(self):
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to initialise from {data!r}")
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: ctypes does not
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self._lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]

    def _collect(self, wav, numsamples, events):
        if numsamples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
        return 0

    def _use(self, voice: str) -> None:
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ConfigError(f"eSpeak NG has no voice {voice!r}")

    def say(self, text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
        """Speak `text` with `voice` (e.g. "en-us+m3"); returns int16 samples at `sample_rate`.

        Variants with breath noise (f2 f3 f5 whisper Alicia ...) differ from run to run: the
        synthetic corpus leaves them out.
        """
        self._use(voice)
        self._lib.espeak_SetParameter(_PARAM["rate"], int(rate), 0)
        self._lib.espeak_SetParameter(_PARAM["pitch"], int(pitch), 0)
        self._chunks = []
        encoded = text.encode() + b"\0"
        status = self._lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise RuntimeError(f"eSpeak NG could not say {text!r} (status {status})")
        self._lib.espeak_Synchronize()
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks)

    def phonemes(self, word: str, voice: str = "en-us") -> str:
        """How `voice` pronounces `word`, in eSpeak's phoneme letters without its stress and length
        marks (e.g. "seven": "sEv@n"). A word and its homophone mostly get the same letters ("won",
        "one"), not always ("four": fo@, "for": fO@)."""
        self._use(voice)
        text = ctypes.create_string_buffer(word.encode() + b"\0")
        pointer = ctypes.c_void_p(ctypes.addressof(text))
        letters = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, 0).decode()
        return "".join(c for c in letters if c not in "',: ")
