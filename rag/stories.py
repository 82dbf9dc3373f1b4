"""Stories, not copies: the same wire story under other headlines, or an updated version of a story.

Each article's body is cut into shingles (runs of five words) and summarised by a MinHash signature
(datasketch). The signature is split into bands; two articles that agree on a whole band are
candidates (locality-sensitive hashing, so finding them costs a lookup per band, not a comparison
with every article). A candidate is confirmed on the exact shingles: the same story when their
resemblance (Jaccard) is at least :attr:`StorySettings.resemblance`, or when one holds nearly all of
the other (containment at least :attr:`StorySettings.containment`: a copy with its ending trimmed,
at least :attr:`StorySettings.shorter_share` as long).
Headlines are left out, so a copy under another headline is found; an update with new figures
keeps most of its shingles.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from .text import words

SHINGLE_WORDS = 5


@dataclass(frozen=True)
class StorySettings:
    # 126 permutations in 42 bands of 3: two bodies of resemblance 0.4 are candidates with a
    # probability of 0.94, of 0.5 with 0.996, of 0.2 with 0.29 (1 - (1 - s^3)^42); the exact check decides.
    permutations: int = 126
    bands: int = 42
    resemblance: float = 0.5
    containment: float = 0.8
    # containment counts only when the shorter body is at least this share of the longer and has at
    # least this many shingles (some 40 words): a copy with its ending cut, not a sentence or a
    # paragraph quoted inside a long article
    shorter_share: float = 0.3
    shorter_shingles: int = 40


def shingles(text: str) -> set[str]:
    """The runs of :data:`SHINGLE_WORDS` words of ``text`` (lower-cased); a short text is one shingle."""
    tokens = words(text)
    if len(tokens) <= SHINGLE_WORDS:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + SHINGLE_WORDS]) for i in range(len(tokens) - SHINGLE_WORDS + 1)}


def signature(text: str | AbstractSet[str], settings: StorySettings = StorySettings()) -> np.ndarray:
    """The MinHash signature of the text's shingles, or of the shingles given (uint32, one value per
    permutation)."""
    from datasketch import MinHash

    permutations, scheme = _permutations(settings.permutations)
    minhash = MinHash(num_perm=settings.permutations, seed=1, permutations=permutations, scheme=scheme)
    cut = shingles(text) if isinstance(text, str) else text
    minhash.update_batch([s.encode("utf-8") for s in cut])
    return minhash.hashvalues.astype(np.uint32)


@functools.cache
def _permutations(count: int):
    """The MinHash permutations of seed 1 and their scheme, drawn once (as every MinHash of that seed draws them)."""
    from datasketch import MinHash

    drawn = MinHash(num_perm=count, seed=1)
    return drawn.permutations, drawn.scheme


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
    if shared / len(a | b) >= settings.resemblance:
        return True
    shorter, longer = sorted((len(a), len(b)))
    return (
        shorter >= settings.shorter_shingles
        and shorter / longer >= settings.shorter_share
        and shared / shorter >= settings.containment
    )
