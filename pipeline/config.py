"""What one preprocessing run does: the job's own settings, checked, with no heavy imports.

The entry point parses flags into a `PreprocessConfig` before TensorFlow or Beam
is imported, so a usage error costs no start-up time.
"""

from __future__ import annotations

import dataclasses

from common.errors import ConfigError
from common.paths import check_literal, check_path
from schemas import features

SCALE_0_1 = "scale_0_1"  # tft.scale_to_0_1 over all pixels of the train split
Z_SCORE = "z_score"  # tft.scale_to_z_score over all pixels of the train split
NORMALIZATIONS = (SCALE_0_1, Z_SCORE)
EXAMPLES_PER_SHARD = 10_000  # automatic sharding, records of a source file a shard: ~30 MB of floats
MAX_SHARDS = 99_999  # the widest the five-digit shard names allow
DEDUP_OFF, DEDUP_WARN = "off", "warn"
DEDUP_MODES = (DEDUP_OFF, DEDUP_WARN)


@dataclasses.dataclass(frozen=True)
class DriftThresholds:
    """Largest drift that is not a finding (pipeline/drift.py says how each is measured and why these).

    Attributes:
      label_linf: L-infinity distance of the label distributions (--max-label-linf).
      intensity_js: Jensen-Shannon divergence of the pixel intensity histograms (--max-intensity-js).
      class_intensity_js: the same within each class (--max-class-intensity-js).

    Raises:
      ConfigError: a threshold outside [0, 1].
    """

    label_linf: float = 0.05
    intensity_js: float = 0.02
    class_intensity_js: float = 0.05

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not 0.0 <= value <= 1.0:  # also refuses nan
                flag = "--max-" + field.name.replace("_", "-")
                raise ConfigError(f"{flag} must be in [0, 1], got {value}")


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """What one preprocessing run does (the job's own flags).

    Attributes:
      input_dir: directory holding train-images*, train-labels*, t10k-images*,
        t10k-labels* IDX files (gzip or not); local or gs://.
      output_dir: where the finished outputs go (see schemas/layout.py).
      eval_fraction: share of the training file carved out as eval, in [0, 1).
      num_shards: shards per split; 0 picks ceil(records / EXAMPLES_PER_SHARD)
        from the records of the split's source file (train and eval share the
        training file's grid: shard i of each holds records of the same range).
      normalization: SCALE_0_1 or Z_SCORE.
      overwrite: replace an earlier output of this pipeline at output_dir.
      dataset: key of schemas.features.CLASS_NAMES, recorded in the manifest.
      statistics: compute statistics/ (pipeline/statistics.py) in the same pass.
      dedup: DEDUP_WARN looks for duplicate images (pipeline/leakage.py) and warns;
        DEDUP_OFF does not. Needs statistics.
      drift: the thresholds of drift between splits and against `against`.
      fail_on_drift: a drift above its threshold fails the run (nothing is written).
      against: an earlier output dir whose statistics and image hashes this
        run's data is checked against (drift, duplicates); "" for none.

    Raises:
      ConfigError: a value out of range (naming its flag), an empty directory or
        one whose name is not UTF-8, or an output_dir with a character TensorFlow
        reads as a pattern (common/paths.py).
    """

    input_dir: str
    output_dir: str
    eval_fraction: float = 0.1
    num_shards: int = 0
    normalization: str = SCALE_0_1
    overwrite: bool = False
    dataset: str = features.DEFAULT_DATASET
    statistics: bool = True
    dedup: str = DEDUP_WARN
    drift: DriftThresholds = DriftThresholds()
    fail_on_drift: bool = False
    against: str = ""

    def __post_init__(self):
        check_path(self.input_dir, "--input-dir")
        check_path(self.output_dir, "--output-dir")
        check_literal(self.output_dir, "--output-dir")  # read back by TensorFlow: no pattern characters
        if not 0.0 <= self.eval_fraction < 1.0:  # also refuses nan
            raise ConfigError(f"--eval-fraction must be in [0, 1), got {self.eval_fraction}")
        if not 0 <= self.num_shards <= MAX_SHARDS:
            raise ConfigError(
                f"--num-shards must be in [0, {MAX_SHARDS}] (0: automatic), got {self.num_shards}"
            )
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"--normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.dedup not in DEDUP_MODES:
            raise ConfigError(f"--dedup must be one of {DEDUP_MODES}, got {self.dedup!r}")
        if not self.statistics and (self.dedup != DEDUP_OFF or self.fail_on_drift or self.against):
            raise ConfigError("--no-statistics needs --dedup off, and neither --fail-on-drift nor --against")
        if self.dataset not in features.CLASS_NAMES:
            raise ConfigError(
                f"--dataset must be one of {sorted(features.CLASS_NAMES)}, got {self.dataset!r}"
            )
