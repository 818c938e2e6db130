"""Duplicate images within and between splits, as keyed joins in Beam.

Every image gets two hashes (`hash_rows`):

- its *content hash*: a 64-bit hash of its raw pixels (`content_hashes`). Equal
  content hashes are exact duplicates (a false match among 10^9 images has a
  probability below 3%).
- its *perceptual hash*: HASH_BITS bits, one per low spatial frequency of the
  image: the 128 lowest-frequency coefficients of its 2-D DCT (orthonormal DCT-II
  over the 28x28 grey levels; the constant term left out; frequencies ordered by
  u + v, then u), each bit saying whether the coefficient exceeds the median of
  the 128. Keeping only low frequencies is a downsampled image; comparing with
  the median makes the hash blind to brightness and contrast changes. Two
  images whose perceptual hashes differ in at most HAMMING_THRESHOLD bits, and
  whose content differs, are *near duplicates*. Measured on Fashion-MNIST: a copy
  with Gaussian noise of sigma 4 grey levels stays within 4 bits 80% of the time
  (sigma 8: 45%); a brightened copy (+40 levels, clipped) is caught at the median;
  of the 70,000 images, 115 distinct pairs fall within 4 bits, most of them
  visibly the same garment (median mean absolute pixel difference 0.5 at distance
  0, 3.2 at 2, 8.9 at 4).

The matching is a keyed join that no worker holds whole (DESIGN.md, Scale).
Each image has NUM_BANDS + 1 keys, and each key picks one of `num_buckets`
buckets; an image's row goes to each bucket one of its keys picked, once, with
a mask byte saying which keys did (`bucket_rows`):

- exact (EXACT_BIT): its content hash (content % buckets). Equal content hashes
  meet in one bucket and are counted there.
- near (bit b): locality-sensitive banding. The HASH_BITS bits are dealt into
  NUM_BANDS = HAMMING_THRESHOLD + 1 bands (bit i to band i mod NUM_BANDS); two
  hashes within HAMMING_THRESHOLD bits agree exactly on at least one band
  (pigeonhole), so candidates are the rows of a bucket with bit b in their mask
  and equal bits in band b; each candidate pair is checked on the whole hash,
  and a pair is counted in the first band where it agrees only, so no pair is
  counted twice.

With one bucket (up to IMAGES_PER_BUCKET images) every image's row travels
once; with more, each row travels to at most NUM_BANDS + 1 buckets (about 4 of
6). Rows travel as numpy arrays (HASH_DTYPE, 30 bytes an image, plus the mask
byte), the rows of a bucket from up to BLOCK_ROWS images in one element
(`RowBuffer`): the shuffle carries a few large elements, never one per image,
and a bucket's rows are matched at once (`match_bucket`). Counts are of images
(`count_names`): "X_in_Y" is the images of split X with a duplicate in the
earlier split Y; "within_X" the images of X that repeat an earlier image of X
(exact) or have a near duplicate in X (near); "label_conflicts" the images with
a duplicate that carries another label. Near counts are among distinct
contents: of a set of identical images only one (the first by split and
record) is matched for near duplicates. An image can be in near pairs found in
several buckets: near matches come out as (count name, image id), to be counted
once each (statistics.py).
"""

from __future__ import annotations

import functools
import io
import uuid
from collections import Counter

import apache_beam as beam
import numpy as np
import tensorflow as tf

from schemas import features, layout

HASH_BITS = 128
HAMMING_THRESHOLD = 4  # near duplicates: perceptual hashes at most this many bits apart
NUM_BANDS = HAMMING_THRESHOLD + 1
HASH_DTYPE = np.dtype(
    [
        ("content", "<u8"),
        ("phash", "<u8", (HASH_BITS // 64,)),
        ("split", "u1"),
        ("label", "u1"),
        ("record", "<u4"),
    ]
)
_WORDS = HASH_BITS // 64
EXACT_BIT = 1 << NUM_BANDS  # in a row's mask: its content hash picked the bucket; bit b < NUM_BANDS: band b
IMAGES_PER_BUCKET = 200_000  # images one bucket of the join is for, at most on average (6 MB of rows)
BLOCK_ROWS = 100_000  # rows a DoFn gathers before it hands them on (3 MB)
_PAIR_CELLS = 1 << 21  # candidate pairs of a long run of equal band values handled at once
_SMALL_RUN = 16  # runs of equal band values up to this long are paired by shifted comparison
EXACT, NEAR = "exact", "near"
LABEL_CONFLICTS = "label_conflicts"


def num_buckets(images: int) -> int:
    """Buckets of the join for `images` images: ceil(images / IMAGES_PER_BUCKET), at least 1."""
    return max(1, -(-images // IMAGES_PER_BUCKET))


def count_names(splits: list[str], reference: tuple[str, ...] = ()) -> list[str]:
    """The names of the counts for `splits` (in order) checked against `reference` splits (earlier)."""
    ordered = [*reference, *splits]
    names = [f"within_{s}" for s in splits]
    names += [f"{x}_in_{y}" for i, x in enumerate(ordered) for y in ordered[:i] if x in splits]
    return [*names, LABEL_CONFLICTS]


_FREQUENCIES = 16  # frequencies 0..15 along each axis hold the HASH_BITS lowest by u + v
_DCT_IMAGES = 512


@functools.lru_cache(maxsize=1)
def _dct_rows() -> tuple[np.ndarray, np.ndarray]:
    """(float32 [_FREQUENCIES, 28] orthonormal DCT-II rows, the flat (v, u) indices of the hash's bits)."""
    size = features.IMAGE_HEIGHT
    x = np.arange(size)
    rows = np.cos(np.pi * (2 * x[None, :] + 1) * np.arange(_FREQUENCIES)[:, None] / (2 * size)) * np.sqrt(
        2 / size
    )
    rows[0] /= np.sqrt(2)
    pairs = sorted(
        (u + v, u, v) for u in range(_FREQUENCIES) for v in range(_FREQUENCIES) if (u, v) != (0, 0)
    )
    chosen = np.array([v * _FREQUENCIES + u for _, u, v in pairs[:HASH_BITS]])
    if pairs[HASH_BITS - 1][0] > _FREQUENCIES - 1:  # every (u, v) up to the last sum taken must be there
        raise AssertionError("_FREQUENCIES is too small for HASH_BITS")
    return rows.astype(np.float32), chosen


def dct_coefficients(pixels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 pixels [n, IMAGE_PIXELS] -> float32 [n, HASH_BITS]: the hash's DCT coefficients, in bit order.

    The 2-D DCT is separable: two matrix products, over the rows, then the
    columns. The coefficients are taken with np.take into `out` (C-contiguous,
    allocated when None): fancy indexing would return them column-major, which
    makes the median's row sort 9x slower.
    """
    n, size = len(pixels), features.IMAGE_HEIGHT
    rows, chosen = _dct_rows()
    images = pixels.reshape(n * size, size).astype(np.float32)
    by_column = (images @ rows.T).reshape(n, size, _FREQUENCIES)  # [b, x, v]
    both = (by_column.transpose(0, 2, 1).reshape(n * _FREQUENCIES, size) @ rows.T).reshape(
        n, -1
    )  # [b, v*F+u]
    if out is None:
        out = np.empty((n, HASH_BITS), np.float32)
    return np.take(both, chosen, axis=1, out=out, mode="clip")  # "raise" would copy through a buffer


def perceptual_hashes(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels [n, IMAGE_PIXELS] -> uint64 [n, HASH_BITS // 64] perceptual hashes (module doc).

    The DCT runs _DCT_IMAGES images at a time: their float32 products stay in
    the CPU's cache (4,096 at a time take twice as long). The median is that of
    the sorted coefficients (numpy's vectorized sort: 5x faster than np.partition
    at the two middle ranks); a row's 128 bits, in order, are its two words.
    """
    coefficients = np.empty((len(pixels), HASH_BITS), np.float32)
    for start in range(0, len(pixels), _DCT_IMAGES):
        part = pixels[start : start + _DCT_IMAGES]
        dct_coefficients(part, coefficients[start : start + len(part)])
    middle = np.sort(coefficients, axis=1)[:, HASH_BITS // 2 - 1 : HASH_BITS // 2 + 1]
    bits = coefficients > middle.mean(axis=1, keepdims=True)
    return np.packbits(bits.reshape(-1), bitorder="little").view("<u8").reshape(len(pixels), _WORDS)


_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, odd
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def content_hashes(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels [n, IMAGE_PIXELS] -> uint64 [n]: a 64-bit hash of each image's bytes.

    The 98 little-endian 8-byte words of an image are folded in one by one (xor,
    multiply by an odd constant, xor-shift: each step a bijection of the state),
    then mixed (splitmix64's finalizer); vectorized over the images, in place,
    word by word from a transposed (contiguous) copy.
    """
    columns = np.ascontiguousarray(np.ascontiguousarray(pixels).view("<u8").T)
    state = np.full(len(pixels), len(pixels[0]) if len(pixels) else 0, np.uint64)
    shifted = np.empty_like(state)
    with np.errstate(over="ignore"):
        for column in columns:
            state ^= column
            state *= _MULTIPLIER
            state ^= np.right_shift(state, np.uint64(29), out=shifted)
        state = (state ^ (state >> np.uint64(31))) * _MIX
    return state ^ (state >> np.uint64(32))


def _band_masks() -> np.ndarray:
    """uint64 [NUM_BANDS, HASH_BITS // 64]: the bits of each band in each word of a hash."""
    masks = np.zeros((NUM_BANDS, _WORDS), np.uint64)
    for bit in range(HASH_BITS):
        masks[bit % NUM_BANDS, bit // 64] |= np.uint64(1 << (bit % 64))
    for band in masks:  # OR-ing a band's words loses nothing: no position holds its bit in two words
        if any(int(a) & int(b) for i, a in enumerate(band) for b in band[i + 1 :]):
            raise AssertionError("a band's bits overlap across words")
    return masks


_BAND_MASKS = _band_masks()


def band_keys(phash: np.ndarray) -> np.ndarray:
    """uint64 [n, HASH_BITS // 64] -> uint64 [n, NUM_BANDS]: each band's bits as one number.

    A band's bits of each word, OR-ed (at positions i mod 64 for bit i: 64 is no
    multiple of NUM_BANDS, so the words' bits of one band never collide).
    """
    keys = np.zeros((len(phash), NUM_BANDS), np.uint64)
    for band in range(NUM_BANDS):
        for word in range(_WORDS):
            keys[:, band] |= phash[:, word] & _BAND_MASKS[band, word]
    return keys


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits differing between uint64 hashes a [n, w] and b [m, w]: int [n, m]."""
    return sum(np.bitwise_count(a[:, None, w] ^ b[None, :, w]).astype(np.int32) for w in range(a.shape[1]))


def hamming_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits differing between uint64 hashes a [n, w] and b [n, w], row by row: int [n]."""
    return np.bitwise_count(a ^ b).sum(axis=1, dtype=np.int32)


def hash_rows(pixels: np.ndarray, labels: np.ndarray, records: np.ndarray, split_code: int) -> np.ndarray:
    """HASH_DTYPE rows of n images: uint8 pixels [n, IMAGE_PIXELS], labels [n], record indices [n]."""
    rows = np.zeros(len(pixels), HASH_DTYPE)
    rows["content"] = content_hashes(pixels)
    rows["phash"] = perceptual_hashes(pixels)
    rows["split"], rows["label"], rows["record"] = split_code, labels, records
    return rows


def bucket_rows(rows: np.ndarray, buckets: int):
    """HASH_DTYPE rows -> (bucket, rows, uint8 masks) of each bucket one of their keys picked (module doc).

    The content hash picks bucket content % buckets; band b's bits, mixed by a
    multiplication (they sit at every fifth position), pick the other buckets.
    """
    if buckets == 1:
        yield 0, rows, np.full(len(rows), (EXACT_BIT << 1) - 1, np.uint8)
        return
    index = np.arange(len(rows))
    masks = np.zeros((len(rows), buckets), np.uint8)
    masks[index, rows["content"] % np.uint64(buckets)] |= np.uint8(EXACT_BIT)
    with np.errstate(over="ignore"):
        mixed = (band_keys(rows["phash"]) * _MULTIPLIER) >> np.uint64(32)
    for band in range(NUM_BANDS):
        masks[index, mixed[:, band] % np.uint64(buckets)] |= np.uint8(1 << band)
    for bucket in range(buckets):
        chosen = masks[:, bucket] != 0
        if chosen.all():
            yield bucket, rows, masks[:, bucket]
        elif chosen.any():
            yield bucket, rows[chosen], masks[chosen, bucket]


class RowBuffer:
    """Rows by bucket, handed on in blocks: `add` returns the blocks once BLOCK_ROWS rows wait, `flush` the rest.

    A block is (bucket, (HASH_DTYPE rows, uint8 masks)); the shuffle then carries
    a few large elements (pickled numpy arrays), not one per image or per batch.
    """

    def __init__(self, buckets: int, block_rows: int = BLOCK_ROWS):
        self._buckets, self._block_rows = buckets, block_rows
        self._waiting: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._count = 0

    def add(self, rows: np.ndarray) -> list:
        for bucket, chosen, masks in bucket_rows(rows, self._buckets):
            self._waiting.setdefault(bucket, []).append((chosen, masks))
            self._count += len(chosen)
        return self.flush() if self._count >= self._block_rows else []

    def flush(self) -> list:
        blocks = [
            (bucket, (np.concatenate([r for r, _ in parts]), np.concatenate([m for _, m in parts])))
            for bucket, parts in sorted(self._waiting.items())
        ]
        self._waiting, self._count = {}, 0
        return blocks


class _Counting:
    """Split names and which of them are the reference (counted against, never counted)."""

    def __init__(self, names: list[str], reference: tuple[str, ...]):
        self.names = list(names)
        self.counted_codes = np.array([name not in reference for name in self.names])

    def counted(self, code: int) -> bool:
        return bool(self.counted_codes[code])


def match_bucket(blocks, names, reference, hashes_dir: str | None, bucket: int, buckets: int):
    """One bucket's blocks of (rows, masks) -> (Counter of exact-duplicate counts, {near count name: image ids}).

    Writes the hashes of the bucket's own rows of the exact join (not the
    reference's), sorted by content hash, to hashes_dir/part-BBBBB-of-NNNNN.npy
    (None: nothing written). An image id is split code << 32 | record.
    """
    counting = _Counting(names, reference)
    rows = np.concatenate([r for r, _ in blocks])
    masks = np.concatenate([m for _, m in blocks])
    order = np.lexsort((rows["record"], rows["split"], rows["content"]))
    rows, masks = rows[order], masks[order]
    exact = rows[(masks & EXACT_BIT) != 0]
    if hashes_dir:
        write_hashes(hashes_dir, bucket, buckets, exact[counting.counted_codes[exact["split"]]])
    distinct = np.r_[True, rows["content"][1:] != rows["content"][:-1]]  # the first row of each content
    return count_exact(exact, counting), find_near(rows[distinct], masks[distinct], counting)


def count_exact(rows: np.ndarray, counting: _Counting) -> Counter:
    """HASH_DTYPE rows sorted by content hash -> Counter of exact-duplicate counts (module doc)."""
    content, names, counts = rows["content"], counting.names, Counter()
    starts = np.flatnonzero(np.r_[True, content[1:] != content[:-1]])
    sizes = np.diff(np.r_[starts, len(rows)])
    if not (sizes > 1).any():
        return counts
    repeated = np.repeat(sizes > 1, sizes)  # the rows of a content hash found more than once
    group = np.unique(np.repeat(np.arange(len(starts)), sizes)[repeated], return_inverse=True)[1]
    repeated = rows[repeated]
    members = np.zeros((group.max() + 1, len(names)), np.int64)  # [group, split code]: images
    np.add.at(members, (group, repeated["split"]), 1)
    for code in np.flatnonzero(counting.counted_codes):
        present = members[:, code] > 0
        counts[f"within_{names[code]}"] += int((members[present, code] - 1).sum())
        for earlier in range(code):
            both = present & (members[:, earlier] > 0)
            counts[f"{names[code]}_in_{names[earlier]}"] += int(members[both, code].sum())
    labels = repeated["label"]
    first = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    conflicting = np.minimum.reduceat(labels, first) != np.maximum.reduceat(labels, first)
    counts[LABEL_CONFLICTS] += int(members[conflicting][:, counting.counted_codes].sum())
    return counts


def find_near(rows: np.ndarray, masks: np.ndarray, counting: _Counting) -> dict[str, set[int]]:
    """Rows of distinct contents and their masks -> {count name: ids of the images in near pairs}.

    For each band, the rows with its bit in their mask are paired by equal band
    bits; a pair within HAMMING_THRESHOLD bits is kept by the first band its
    hashes agree on only.
    """
    phash = np.ascontiguousarray(rows["phash"])
    keys = band_keys(phash)
    by_band = np.ascontiguousarray(keys.T)
    found: dict[str, set[int]] = {}
    for band in range(NUM_BANDS):
        members = np.flatnonzero(masks & (1 << band))
        values = by_band[band] if len(members) == len(rows) else by_band[band, members]
        for a, b in _candidate_pairs(values):
            a, b = members[a], members[b]
            near = hamming_pairs(phash[a], phash[b]) <= HAMMING_THRESHOLD
            a, b = a[near], b[near]
            first = np.argmax(keys[a] == keys[b], axis=1)  # the first band the pair agrees on
            _collect(rows, a[first == band], b[first == band], counting, found)
    return found


def _collect(rows: np.ndarray, a: np.ndarray, b: np.ndarray, counting: _Counting, found: dict) -> None:
    names, counted = counting.names, counting.counted_codes
    sa, sb = rows["split"][a], rows["split"][b]
    ida = sa.astype(np.int64) << 32 | rows["record"][a]
    idb = sb.astype(np.int64) << 32 | rows["record"][b]
    same = sa == sb
    for code in np.unique(sa[same]):
        if counted[code]:
            chosen = same & (sa == code)
            found.setdefault(f"within_{names[code]}", set()).update(
                [*ida[chosen].tolist(), *idb[chosen].tolist()]
            )
    early, late = np.minimum(sa, sb), np.maximum(sa, sb)
    late_id = np.where(sa > sb, ida, idb)
    for before, after in set(zip(early[~same].tolist(), late[~same].tolist(), strict=True)):
        if counted[after]:
            chosen = ~same & (early == before) & (late == after)
            found.setdefault(f"{names[after]}_in_{names[before]}", set()).update(late_id[chosen].tolist())
    conflict = rows["label"][a] != rows["label"][b]
    ids = [*ida[conflict & counted[sa]].tolist(), *idb[conflict & counted[sb]].tolist()]
    if ids:
        found.setdefault(LABEL_CONFLICTS, set()).update(ids)


def _candidate_pairs(values: np.ndarray):
    """(a, b) index arrays of every pair of rows with equal `values`, in chunks.

    Runs of 2 to _SMALL_RUN equal values (their rows only: most values are
    unique) are paired by comparing the sorted values with themselves shifted
    by 1 up to the longest such run (a few vectorized passes for any number of
    runs); longer runs are paired block by block, about _PAIR_CELLS pairs a chunk.
    """
    order = np.argsort(values)
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(ordered)])
    small = (sizes > 1) & (sizes <= _SMALL_RUN)
    in_small = np.repeat(small, sizes)
    small_order, small_values = order[in_small], ordered[in_small]
    for shift in range(1, int(sizes[small].max(initial=1))):
        i = np.flatnonzero(small_values[:-shift] == small_values[shift:])
        yield small_order[i], small_order[i + shift]
    pending, cells = [], 0
    for start, size in zip(starts[sizes > _SMALL_RUN], sizes[sizes > _SMALL_RUN], strict=True):
        run = order[start : start + size]
        step = max(1, _PAIR_CELLS // size)
        for first in range(0, size, step):
            block = run[first : first + step]
            a, b = np.repeat(block, size), np.tile(run, len(block))
            pending.append((a[a < b], b[a < b]))
            cells += len(a)
            if cells >= _PAIR_CELLS:
                yield _joined(pending)
                pending, cells = [], 0
    if pending:
        yield _joined(pending)


def _joined(pairs: list) -> tuple[np.ndarray, np.ndarray]:
    """[(a, b), ...] index arrays -> (all a, all b), each concatenated in order."""
    return np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs])


class FindDuplicates(beam.PTransform):
    """{split: raw RecordBatches} (+ reference rows) -> one {"exact": {...}, "near": {...}} of counts.

    The duplicate search of statistics.AnalyzeSplits alone (no summaries): the
    same DoFns, the same join.

    Args:
      splits: the split names, in order ("X_in_Y" counts need Y before X).
      buckets: `num_buckets` of the images in all.
      hashes_dir: where the exact join writes the image hashes (None: nowhere).
      reference: names of splits whose rows come in as `reference_rows` (checked against, never counted).

    The input is a dict {split: raw RecordBatches}, plus, when `reference` is
    set, the key "reference": a PCollection of HASH_DTYPE row arrays whose split
    codes index `[*reference, *splits]`.
    """

    def __init__(self, splits, buckets: int, hashes_dir: str | None = None, reference: tuple[str, ...] = ()):
        super().__init__()
        self._splits, self._buckets, self._hashes_dir = list(splits), buckets, hashes_dir
        self._reference = tuple(reference)

    def expand(self, inputs):
        from pipeline import statistics  # statistics builds its one pass on this module's functions

        analysis = inputs | "Analyze" >> statistics.AnalyzeSplits(
            self._splits,
            self._buckets,
            summarize=False,
            hashes_dir=self._hashes_dir,
            reference=self._reference,
        )
        return analysis | "Counts" >> beam.Map(_counts_of)


def _counts_of(keyed: tuple) -> dict:
    """(None, statistics.Analysis) -> its leakage counts."""
    return keyed[1].leakage


def complete_counts(counter, names: list[str]) -> dict[str, int]:
    """{name: int count} of every name of `names` (0 when `counter` lacks it)."""
    return {name: int(counter.get(name, 0)) for name in names}


def split_counts(leakage: dict, split: str) -> dict[str, int]:
    """The counts of `leakage` about images of `split`, as {"exact_within": n, "near_test_in_train"...}."""
    out = {}
    for kind, counts in leakage.items():
        for name, count in counts.items():
            if name == f"within_{split}":
                out[f"{kind}_within"] = count
            elif name.startswith(f"{split}_in_"):
                out[f"{kind}_{name}"] = count
    return out


def hashes_path(hashes_dir: str, bucket: int, buckets: int) -> str:
    return layout.join(hashes_dir, f"part-{bucket:05d}-of-{buckets:05d}.npy")


def write_hashes(hashes_dir: str, bucket: int, buckets: int, rows: np.ndarray) -> None:
    """Writes one bucket's rows (sorted by content hash) as .npy, atomically (a retry rewrites it)."""
    tf.io.gfile.makedirs(hashes_dir)
    buffer = io.BytesIO()
    np.save(buffer, rows[np.argsort(rows["content"], kind="stable")], allow_pickle=False)
    final = hashes_path(hashes_dir, bucket, buckets)
    temporary = f"{final}.{uuid.uuid4().hex}.tmp"
    with tf.io.gfile.GFile(temporary, "wb") as f:
        f.write(buffer.getvalue())
    tf.io.gfile.rename(temporary, final, overwrite=True)


def read_hashes(path: str) -> np.ndarray:
    """One hashes file's HASH_DTYPE rows.

    Raises:
      ValueError: the file does not hold HASH_DTYPE rows.
    """
    with tf.io.gfile.GFile(path, "rb") as f:
        rows = np.load(io.BytesIO(f.read()), allow_pickle=False)
    if rows.dtype != HASH_DTYPE:
        raise ValueError(f"{path}: image hashes of dtype {rows.dtype}, expected {HASH_DTYPE}")
    return rows


def list_hashes(hashes_dir: str) -> list[str]:
    """The hashes files of a statistics dir, by listing (never a glob)."""
    if not tf.io.gfile.isdir(hashes_dir):
        return []
    return sorted(layout.join(hashes_dir, n) for n in tf.io.gfile.listdir(hashes_dir) if n.endswith(".npy"))


def one_line(leakage: dict) -> str:
    """'exact: 3 test_in_train, ...; near: ...' of the non-zero counts; '' when all are zero."""
    parts = []
    for kind in (EXACT, NEAR):
        nonzero = [f"{n} {name}" for name, n in leakage.get(kind, {}).items() if n]
        if nonzero:
            parts.append(f"{kind}: " + ", ".join(nonzero))
    return "; ".join(parts)
