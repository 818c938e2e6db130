"""Run the benchmarks and print a table: `python -m bench [--repeats N] [--only NAME]`."""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench import common, preprocessing  # noqa: E402

TARGETS = {"preprocessing": "pipeline <= 2x baseline (aim: parity)"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    results = {"machine": common.machine()}
    results["preprocessing"] = preprocessing.run(args.repeats)
    results["preprocessing_multiprocess"] = preprocessing.run(
        args.repeats, beam_args=("--direct_running_mode=multi_processing", "--direct_num_workers=2")
    )
    print("machine: " + ", ".join(f"{k} {v}" for k, v in results["machine"].items()))
    print(f"{'benchmark':<28}{'baseline s':>12}{'ours s':>10}{'ratio':>8}  target")
    for name in ("preprocessing", "preprocessing_multiprocess"):
        r = results[name]
        print(
            f"{name:<28}{r['baseline_s']:>12.2f}{r['pipeline_s']:>10.2f}{r['ratio']:>8.2f}  {TARGETS['preprocessing']}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
