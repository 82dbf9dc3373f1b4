"""Stories, not copies: the same wire story under other headlines, or an updated version of a story.

Each article's body is cut into shingles (runs of five words) and summarised by a MinHash signature
(datasketch). The signature is split into bands; two articles that agree on a whole band are
candidates (locality-sensitive hashing, so finding them costs a lookup per band, not a comparison
with every article). A candidate is confirmed on the exact shingles: the same story when their
resemblance (Jaccard) is at least :attr:`StorySettings.resemblance`, or when one holds nearly all of
the other (containment at least :attr:`StorySettings.containment`: a copy with its ending trimmed).
Headlines are left out, so a copy under another headline is found; an update with new figures
keeps most of its shingles.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .text import words

SHINGLE_WORDS = 5


@dataclass(frozen=True)
class StorySettings:
    # 128 permutations in 32 bands of 4: two bodies of resemblance 0.4 are candidates with a
    # probability of 0.56, of 0.6 with 0.98 (1 - (1 - s^4)^32); the exact check decides.
    permutations: int = 128
    bands: int = 32
    resemblance: float = 0.5
    containment: float = 0.8


def shingles(text: str) -> set[str]:
    """The runs of :data:`SHINGLE_WORDS` words of ``text`` (lower-cased); a short text is one shingle."""
    tokens = words(text)
    if len(tokens) <= SHINGLE_WORDS:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + SHINGLE_WORDS]) for i in range(len(tokens) - SHINGLE_WORDS + 1)}


def signature(text: str, settings: StorySettings = StorySettings()) -> np.ndarray:
    """The MinHash signature of the text's shingles (uint32, one value per permutation)."""
    from datasketch import MinHash

    minhash = MinHash(num_perm=settings.permutations, seed=1)
    minhash.update_batch([s.encode("utf-8") for s in shingles(text)])
    return minhash.hashvalues.astype(np.uint32)


def band_keys(values: np.ndarray, settings: StorySettings = StorySettings()) -> list[int]:
    """One 63-bit key per band of the signature (the band's number is part of the key)."""
    rows = len(values) // settings.bands
    keys = []
    for band in range(settings.bands):
        digest = hashlib.blake2b(values[band * rows : (band + 1) * rows].tobytes(), digest_size=8, key=bytes([band]))
        keys.append(int.from_bytes(digest.digest(), "big") >> 1)  # fits SQLite's signed 64-bit integers
    return keys


def same_story(a: set[str], b: set[str], settings: StorySettings = StorySettings()) -> bool:
    """Are two bodies, given as shingle sets, the same story (see the module docstring)?"""
    if not a or not b:
        return False
    shared = len(a & b)
    return shared / len(a | b) >= settings.resemblance or shared / min(len(a), len(b)) >= settings.containment
