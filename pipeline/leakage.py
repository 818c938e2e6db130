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

The matching is a keyed join that no worker holds whole (DESIGN.md, Scale):

- exact: rows are keyed by content hash into `num_buckets` buckets; a bucket's
  rows meet in one group and equal hashes are counted there.
- near: locality-sensitive banding. The HASH_BITS bits are dealt into
  NUM_BANDS = HAMMING_THRESHOLD + 1 bands (bit i to band i mod NUM_BANDS); two
  hashes within HAMMING_THRESHOLD bits agree exactly on at least one band
  (pigeonhole), so candidates are the rows keyed alike by (band, band value);
  each candidate pair is checked on the whole hash, and a pair is counted in the
  first band where it agrees only, so no pair is counted twice. Both joins share
  one GroupByKey (`MatchDuplicates`).

Rows travel as numpy structured arrays (HASH_DTYPE, 30 bytes an image), a batch's
rows of one bucket at a time: the shuffle carries a few elements per batch, never
one per image. Counts are of images (`COUNT_NAMES`): "X_in_Y" is the images of
split X with a duplicate in the earlier split Y; "within_X" the images of X that
repeat an earlier image of X (exact) or have a near duplicate in X (near);
"label_conflicts" the images with a duplicate that carries another label. Near
counts are among distinct contents: of a set of identical images only one (the
first by split and record) is matched for near duplicates.
"""

from __future__ import annotations

import functools
import io
import uuid
from collections import Counter

import apache_beam as beam
import numpy as np
import tensorflow as tf
import threadpoolctl

from pipeline import image_stats, sources
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
IMAGES_PER_BUCKET = 200_000  # rows one bucket of the join holds, at most on average (6 MB)
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


_FREQUENCIES = 20  # frequencies 0..19 along each axis hold the HASH_BITS lowest by u + v


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
    return rows.astype(np.float32), chosen


def dct_coefficients(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels [n, IMAGE_PIXELS] -> float32 [n, HASH_BITS]: the hash's DCT coefficients, in bit order.

    The 2-D DCT is separable: two matrix products, over the rows, then the columns.
    """
    n, size = len(pixels), features.IMAGE_HEIGHT
    rows, chosen = _dct_rows()
    images = pixels.reshape(n * size, size).astype(np.float32)
    by_column = (images @ rows.T).reshape(n, size, _FREQUENCIES)  # [b, x, v]
    both = (by_column.transpose(0, 2, 1).reshape(n * _FREQUENCIES, size) @ rows.T).reshape(
        n, -1
    )  # [b, v*F+u]
    return both[:, chosen]


def perceptual_hashes(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels [n, IMAGE_PIXELS] -> uint64 [n, HASH_BITS // 64] perceptual hashes (module doc)."""
    coefficients = dct_coefficients(pixels)
    middle = np.partition(coefficients, [HASH_BITS // 2 - 1, HASH_BITS // 2], axis=1)
    median = middle[:, HASH_BITS // 2 - 1 : HASH_BITS // 2 + 1].mean(axis=1, keepdims=True)
    bits = coefficients > median
    packed = np.ascontiguousarray(np.packbits(bits, axis=1, bitorder="little"))
    return packed.view("<u8").reshape(len(pixels), -1)


_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, odd
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def content_hashes(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels [n, IMAGE_PIXELS] -> uint64 [n]: a 64-bit hash of each image's bytes.

    The 98 little-endian 8-byte words of an image are folded in one by one (xor,
    multiply by an odd constant, xor-shift: each step a bijection of the state),
    then mixed (splitmix64's finalizer); vectorized over the images.
    """
    words = np.ascontiguousarray(pixels).view("<u8")
    state = np.full(len(pixels), len(pixels[0]) if len(pixels) else 0, np.uint64)
    with np.errstate(over="ignore"):
        for column in words.T:
            state = (state ^ column) * _MULTIPLIER
            state ^= state >> np.uint64(29)
        state = (state ^ (state >> np.uint64(31))) * _MIX
    return state ^ (state >> np.uint64(32))


def band_keys(phash: np.ndarray) -> np.ndarray:
    """uint64 [n, HASH_BITS // 64] -> uint64 [n, NUM_BANDS]: each band's bits as one number.

    Packed with np.packbits, band by band: the unpacked bits take one byte each (16 MB
    for 128,000 hashes), never eight.
    """
    bits = np.unpackbits(phash.view(np.uint8).reshape(len(phash), -1), axis=1, bitorder="little")
    keys = np.zeros((len(phash), NUM_BANDS), np.uint64)
    for band in range(NUM_BANDS):
        packed = np.packbits(bits[:, band::NUM_BANDS], axis=1, bitorder="little")
        padded = np.zeros((len(phash), 8), np.uint8)
        padded[:, : packed.shape[1]] = packed
        keys[:, band] = padded.view("<u8")[:, 0]
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


class HashImages(beam.DoFn):
    """Raw RecordBatch -> its HASH_DTYPE rows keyed for both joins (`keyed_rows`), marked with `split_code`.

    The hash's small matrix products run on one BLAS thread: beside TensorFlow's
    threads in the same worker, a second one only waits (measured: 6x slower).
    """

    def __init__(self, split_code: int, buckets: int):
        self._split_code, self._buckets = split_code, buckets
        self._threads = None

    def setup(self):
        self._threads = threadpoolctl.ThreadpoolController()

    def process(self, record_batch):
        pixels, labels = image_stats.batch_pixels(record_batch)
        if len(pixels):
            records = np.asarray(record_batch.column(sources.RECORD_COLUMN).flatten(), np.int64)
            with self._threads.limit(limits=1, user_api="blas"):
                rows = hash_rows(pixels, labels, records, self._split_code)
            yield from keyed_rows(rows, self._buckets)


def keyed_rows(rows: np.ndarray, buckets: int):
    """HASH_DTYPE rows -> ((EXACT, content bucket) | (NEAR, band * buckets + band-value bucket), rows) pairs."""
    bucket = rows["content"] % np.uint64(buckets)
    for b in np.unique(bucket):
        yield (EXACT, int(b)), rows[bucket == b]
    keys = band_keys(rows["phash"])
    for band in range(NUM_BANDS):
        bucket = keys[:, band] % np.uint64(buckets)
        for b in np.unique(bucket):
            yield (NEAR, band * buckets + int(b)), rows[bucket == b]


def _groups(values: np.ndarray):
    """Index arrays of the runs of equal `values` with two or more members."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(ordered)]
    for start, end in zip(starts, ends, strict=True):
        if end - start > 1:
            yield order[start:end]


class _Counting:
    """Split names and which of them are the reference (counted against, never counted)."""

    def __init__(self, names: list[str], reference: tuple[str, ...]):
        self.names = list(names)
        self.counted_codes = np.array([name not in reference for name in self.names])

    def counted(self, code: int) -> bool:
        return bool(self.counted_codes[code])


class CountExactDuplicates(beam.DoFn):
    """(bucket, [row arrays]) -> Counter of exact-duplicate counts; writes the bucket's hashes.

    Args:
      names: split names by split code (reference splits first).
      reference: the names of splits checked against but not counted.
      hashes_dir: where to write part-BBBBB-of-NNNNN.npy of the bucket's own rows
        (not the reference's), sorted by content hash; None to write nothing.
      buckets: the number of buckets (for the file names).
    """

    def __init__(self, names, reference, hashes_dir: str | None, buckets: int):
        self._counting = _Counting(names, reference)
        self._hashes_dir, self._buckets = hashes_dir, buckets

    def process(self, element):
        bucket, arrays = element
        rows = np.concatenate(list(arrays))
        if self._hashes_dir:
            own = self._counting.counted_codes[rows["split"]]
            write_hashes(self._hashes_dir, bucket, self._buckets, rows[own])
        counts = Counter()
        for group in _groups(rows["content"]):
            self._count_group(rows[group], counts)
        yield counts

    def _count_group(self, group: np.ndarray, counts: Counter) -> None:
        names, codes = self._counting.names, group["split"]
        present = sorted(set(codes.tolist()))
        for code in present:
            if self._counting.counted(code):
                members = int((codes == code).sum())
                counts[f"within_{names[code]}"] += members - 1
                for earlier in (c for c in present if c < code):
                    counts[f"{names[code]}_in_{names[earlier]}"] += members
        if len(set(group["label"].tolist())) > 1:
            counts[LABEL_CONFLICTS] += sum(self._counting.counted(c) for c in codes.tolist())


class FindNearPairs(beam.DoFn):
    """((band, bucket), [row arrays]) -> (count name, image id) of each image in a near pair.

    Images of equal content are one image here (the one of the lowest split code
    and record; the others are exact duplicates, counted as such), so a thousand
    blank images make no million pairs. A pair is reported by the first band its
    hashes agree on only; an image id is split code << 32 | record, so an image
    found in several buckets is counted once downstream (beam.Distinct).
    """

    def __init__(self, names, reference, buckets: int):
        self._counting = _Counting(names, reference)
        self._buckets = buckets

    def process(self, element):
        key, arrays = element
        band = key // self._buckets
        rows = _distinct_contents(np.concatenate(list(arrays)))
        keys = band_keys(rows["phash"])
        found: dict[str, set[int]] = {}
        for a, b in _candidate_pairs(keys[:, band]):
            a, b = np.minimum(a, b), np.maximum(a, b)
            near = hamming_pairs(rows["phash"][a], rows["phash"][b]) <= HAMMING_THRESHOLD
            first = np.argmax(keys[a] == keys[b], axis=1)  # the first band the pair agrees on
            keep = near & (first == band)
            self._collect(rows, a[keep], b[keep], found)
        for name, ids in found.items():
            for image_id in sorted(ids):
                yield name, image_id

    def _collect(self, rows: np.ndarray, a: np.ndarray, b: np.ndarray, found: dict) -> None:
        names, counted = self._counting.names, self._counting.counted_codes
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


def _distinct_contents(rows: np.ndarray) -> np.ndarray:
    """One row per content hash: the one of the lowest (split code, record)."""
    rows = rows[np.lexsort((rows["record"], rows["split"], rows["content"]))]
    return rows[np.r_[True, rows["content"][1:] != rows["content"][:-1]]]


def _candidate_pairs(values: np.ndarray):
    """(a, b) index arrays of every pair of rows with equal `values`, in chunks.

    Runs of up to _SMALL_RUN equal values are paired by comparing the sorted values
    with themselves shifted by 1.._SMALL_RUN - 1 positions (a few vectorized passes
    for any number of runs); a longer run is paired block by block, at most
    _PAIR_CELLS pairs at a time.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(ordered)])
    small = np.repeat(sizes <= _SMALL_RUN, sizes)
    for shift in range(1, min(_SMALL_RUN, len(ordered))):
        i = np.flatnonzero(small[:-shift] & (ordered[:-shift] == ordered[shift:]))
        if len(i):
            yield order[i], order[i + shift]
    for start, size in zip(starts[sizes > _SMALL_RUN], sizes[sizes > _SMALL_RUN], strict=True):
        run = order[start : start + size]
        step = max(1, _PAIR_CELLS // size)
        for first in range(0, size, step):
            block = run[first : first + step]
            a, b = np.repeat(block, size), np.tile(run, len(block))
            yield a[a < b], b[a < b]


class MatchDuplicates(beam.DoFn):
    """((EXACT | NEAR, bucket), [row arrays]) -> CountExactDuplicates' Counter | (NEAR_MATCHES, (name, id)).

    One join for both: the exact buckets and the near bands meet in one GroupByKey.
    """

    def __init__(self, names, reference, hashes_dir: str | None, buckets: int):
        self._exact = CountExactDuplicates(names, reference, hashes_dir, buckets)
        self._near = FindNearPairs(names, reference, buckets)

    def process(self, element):
        (kind, bucket), arrays = element
        if kind == EXACT:
            yield from self._exact.process((bucket, arrays))
        else:
            for match in self._near.process((bucket, arrays)):
                yield beam.pvalue.TaggedOutput(NEAR, match)


def _sum_counters(counters) -> Counter:
    total = Counter()
    for counter in counters:
        total.update(counter)
    return total


class FindDuplicates(beam.PTransform):
    """{split: raw RecordBatches} (+ reference rows) -> one {"exact": {...}, "near": {...}} of counts.

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
        self._reference, self._names = tuple(reference), [*reference, *splits]

    def expand(self, inputs):
        names, reference, buckets = self._names, self._reference, self._buckets
        keyed = [
            inputs[split] | f"Hash{split.title()}" >> beam.ParDo(HashImages(names.index(split), buckets))
            for split in self._splits
        ]
        if self._reference:
            keyed.append(inputs["reference"] | "KeyReference" >> beam.FlatMap(keyed_rows, buckets))
        matched = (
            keyed
            | "AllHashes" >> beam.Flatten()
            | "Join" >> beam.GroupByKey()
            | "Match"
            >> beam.ParDo(MatchDuplicates(names, reference, self._hashes_dir, buckets)).with_outputs(
                NEAR, main=EXACT
            )
        )
        exact = matched[EXACT] | "SumExact" >> beam.CombineGlobally(_sum_counters)
        near = (
            matched[NEAR]
            | "OncePerImage" >> beam.Distinct()
            | "CountName" >> beam.Map(lambda pair: pair[0])
            | "CountNear" >> beam.combiners.Count.PerElement()
        )
        counted = count_names(self._splits, self._reference)
        return exact | "Counts" >> beam.Map(
            lambda e, n: {EXACT: _complete(e, counted), NEAR: _complete(n, counted)},
            beam.pvalue.AsDict(near),
        )


def _complete(counter, names: list[str]) -> dict[str, int]:
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
