"""Duplicate images within and between splits, as keyed joins in Beam.

Every image gets two hashes (`hash_rows`):

- its *content hash*: the first 8 bytes of the BLAKE2b digest of its raw pixels.
  Equal content hashes are exact duplicates (a false match among 10^9 images has
  a probability below 3%).
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
  rows meet in one `GroupByKey` and equal hashes are counted there.
- near: locality-sensitive banding. The HASH_BITS bits are dealt into
  NUM_BANDS = HAMMING_THRESHOLD + 1 bands (bit i to band i mod NUM_BANDS); two
  hashes within HAMMING_THRESHOLD bits agree exactly on at least one band
  (pigeonhole), so candidates are the rows keyed alike by (band, band value);
  each candidate pair is checked on the whole hash, and a pair is counted in the
  first band where it agrees only, so no pair is counted twice.

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
import hashlib
import io
import uuid
from collections import Counter

import apache_beam as beam
import numpy as np
import tensorflow as tf

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
_PAIR_CELLS = 1 << 22  # Hamming distances computed at once (32 MB of uint64 per word)
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


@functools.lru_cache(maxsize=1)
def _dct_basis() -> np.ndarray:
    """float32 [IMAGE_PIXELS, HASH_BITS]: the orthonormal 2-D DCT-II basis images of the hash's frequencies."""
    size = features.IMAGE_HEIGHT
    x = np.arange(size)
    k = 20  # frequencies 0..19 along each axis hold the 128 lowest by u + v
    basis = np.cos(np.pi * (2 * x[None, :] + 1) * np.arange(k)[:, None] / (2 * size)) * np.sqrt(2 / size)
    basis[0] /= np.sqrt(2)
    pairs = sorted((u + v, u, v) for u in range(k) for v in range(k) if (u, v) != (0, 0))[:HASH_BITS]
    return np.stack([np.outer(basis[u], basis[v]).ravel() for _, u, v in pairs], axis=1).astype(np.float32)


def perceptual_hashes(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels [n, IMAGE_PIXELS] -> uint64 [n, HASH_BITS // 64] perceptual hashes (module doc)."""
    coefficients = pixels.astype(np.float32) @ _dct_basis()
    bits = coefficients > np.median(coefficients, axis=1, keepdims=True)
    return np.packbits(bits, axis=1, bitorder="little").view("<u8").reshape(len(pixels), -1)


def content_hashes(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels [n, IMAGE_PIXELS] -> uint64 [n]: the first 8 bytes of each image's BLAKE2b digest."""
    digests = b"".join(hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in pixels)
    return np.frombuffer(digests, "<u8")


def band_keys(phash: np.ndarray) -> np.ndarray:
    """uint64 [n, HASH_BITS // 64] -> uint64 [n, NUM_BANDS]: each band's bits as one number."""
    bits = np.unpackbits(phash.view(np.uint8).reshape(len(phash), -1), axis=1, bitorder="little")
    keys = np.zeros((len(phash), NUM_BANDS), np.uint64)
    for band in range(NUM_BANDS):
        chosen = bits[:, band::NUM_BANDS].astype(np.uint64)
        keys[:, band] = (chosen << np.arange(chosen.shape[1], dtype=np.uint64)).sum(axis=1, dtype=np.uint64)
    return keys


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits differing between uint64 hashes a [n, w] and b [m, w]: int [n, m]."""
    return sum(np.bitwise_count(a[:, None, w] ^ b[None, :, w]).astype(np.int32) for w in range(a.shape[1]))


def hash_rows(pixels: np.ndarray, labels: np.ndarray, records: np.ndarray, split_code: int) -> np.ndarray:
    """HASH_DTYPE rows of n images: uint8 pixels [n, IMAGE_PIXELS], labels [n], record indices [n]."""
    rows = np.zeros(len(pixels), HASH_DTYPE)
    rows["content"] = content_hashes(pixels)
    rows["phash"] = perceptual_hashes(pixels)
    rows["split"], rows["label"], rows["record"] = split_code, labels, records
    return rows


class HashImages(beam.DoFn):
    """Raw RecordBatch -> its HASH_DTYPE rows (one array), every row marked with `split_code`."""

    def __init__(self, split_code: int):
        self._split_code = split_code

    def process(self, record_batch):
        pixels, labels = image_stats.batch_pixels(record_batch)
        if len(pixels):
            records = np.asarray(record_batch.column(sources.RECORD_COLUMN).flatten(), np.int64)
            yield hash_rows(pixels, labels, records, self._split_code)


def _key_exact(rows: np.ndarray, buckets: int):
    bucket = rows["content"] % np.uint64(buckets)
    for b in np.unique(bucket):
        yield int(b), rows[bucket == b]


def _key_bands(rows: np.ndarray, buckets: int):
    keys = band_keys(rows["phash"])
    for band in range(NUM_BANDS):
        bucket = keys[:, band] % np.uint64(buckets)
        for b in np.unique(bucket):
            yield band * buckets + int(b), rows[bucket == b]


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
        for group in _groups(keys[:, band]):
            for a, b in _near_pairs(rows["phash"], keys, group, band):
                self._collect(rows, a, b, found)
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


def _near_pairs(phash: np.ndarray, keys: np.ndarray, group: np.ndarray, band: int):
    """(a, b) index arrays, a < b, of the rows of `group` within HAMMING_THRESHOLD whose first equal band is `band`.

    The group is compared block by block, at most _PAIR_CELLS distances at a time.
    """
    step = max(1, _PAIR_CELLS // len(group))
    for start in range(0, len(group), step):
        block = group[start : start + step]
        i, j = np.nonzero(hamming(phash[block], phash[group]) <= HAMMING_THRESHOLD)
        a, b = block[i], group[j]
        a, b = a[a < b], b[a < b]
        first = np.argmax(keys[a] == keys[b], axis=1)
        yield a[first == band], b[first == band]


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
        hashed = [
            inputs[split] | f"Hash{split.title()}" >> beam.ParDo(HashImages(self._names.index(split)))
            for split in self._splits
        ]
        if self._reference:
            hashed.append(inputs["reference"])
        rows = hashed | "AllHashes" >> beam.Flatten()
        names, reference, buckets = self._names, self._reference, self._buckets
        exact = (
            rows
            | "KeyByContent" >> beam.FlatMap(_key_exact, buckets)
            | "JoinExact" >> beam.GroupByKey()
            | "CountExact" >> beam.ParDo(CountExactDuplicates(names, reference, self._hashes_dir, buckets))
            | "SumExact" >> beam.CombineGlobally(_sum_counters)
        )
        near = (
            rows
            | "KeyByBand" >> beam.FlatMap(_key_bands, buckets)
            | "JoinNear" >> beam.GroupByKey()
            | "FindNearPairs" >> beam.ParDo(FindNearPairs(names, reference, buckets))
            | "OncePerImage" >> beam.Distinct()
            | "CountName" >> beam.Map(lambda pair: pair[0])
            | "CountNear" >> beam.combiners.Count.PerElement()
            | "NearCounts" >> beam.combiners.ToDict()
        )
        counted = count_names(self._splits, self._reference)
        return exact | "Counts" >> beam.Map(
            lambda e, n: {EXACT: _complete(e, counted), NEAR: _complete(n, counted)},
            beam.pvalue.AsSingleton(near),
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
    np.save(buffer, np.sort(rows, order="content"), allow_pickle=False)
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
