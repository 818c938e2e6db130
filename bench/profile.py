"""Where the time goes: py-spy samples of the preprocessing job and of training,
and TensorFlow's own trace of the default model's training step.

    python -m bench.profile [--input-dir DIR_OF_IDX_FILES]

Runs each command under `py-spy record` (all threads and subprocesses, raw
collapsed stacks), then prints the functions holding the most samples: "self"
(the leaf frame, where the CPU was) and "inclusive" (anywhere on the stack),
as shares of all samples. Needs py-spy (`pip install py-spy`) and ptrace rights.
py-spy sees TensorFlow's kernels only as one `session.run`; the op profile
inside it comes from the runtime's `ProfilerHook` (full-trace RunMetadata in
Chrome trace format) on in-memory data, summed by op type.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

from bench import common

RATE = 50  # samples per second


def py_spy() -> str:
    """The py-spy executable: beside this Python (a venv's bin/, not always on PATH) or on PATH.

    Raises:
      FileNotFoundError: py-spy is not installed (`pip install py-spy`).
    """
    search = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    found = shutil.which("py-spy", path=search)
    if not found:
        raise FileNotFoundError("py-spy not found beside this Python or on PATH: pip install py-spy")
    return found


def record(command: list[str], output: str) -> None:
    """Runs command under py-spy, writing collapsed stacks to output."""
    subprocess.run(
        [
            py_spy(),
            "record",
            "--format",
            "raw",
            "--rate",
            str(RATE),
            "--subprocesses",
            "--output",
            output,
            "--",
            *command,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )


def _frame_name(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    return f"{name} ({os.path.basename(where.split(':')[0])})" if where else name


def top_costs(collapsed: str, n: int = 8) -> dict[str, list[tuple[str, float]]]:
    """Top self and inclusive costs from py-spy's raw output, as sample shares."""
    self_counts, inclusive = collections.Counter(), collections.Counter()
    total = 0
    with open(collapsed) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack:
                continue
            count = int(count)
            frames = [_frame_name(fr) for fr in stack.split(";") if " (" in fr]
            if not frames:
                continue
            total += count
            self_counts[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
    return {
        "self": [(name, c / total) for name, c in self_counts.most_common(n)],
        "inclusive": [(name, c / total) for name, c in inclusive.most_common(4 * n) if c / total < 0.999][:n],
    }


def op_profile(steps: int = 100, every: int = 20, n: int = 10) -> list[tuple[str, float]]:
    """The op types holding most of the default model's training-step time, as shares of all op time.

    Traces every `every`-th of `steps` steps of bench.training's Estimator run
    (ops on both cores overlap, so shares are of summed op durations, not of wall time).
    """
    import tensorflow as tf

    import estimator as tfe
    from bench import training
    from trainer.hparams import HParams

    with tempfile.TemporaryDirectory() as traces:
        data = common.save_images(os.path.join(traces, "images"))
        with tf.Graph().as_default():  # its v1 FileWriter refuses to be made eagerly
            hook = tfe.ProfilerHook(save_steps=every, output_dir=traces)
        training.estimator_run(data, steps, HParams().model, hooks=[hook])
        durations = collections.Counter()
        for path in glob.glob(os.path.join(traces, "timeline-*.json")):
            with open(path) as f:
                for event in json.load(f)["traceEvents"]:
                    if event.get("ph") == "X" and "op" in event.get("args", {}):
                        durations[event["args"]["op"]] += event["dur"]
    total = sum(durations.values())
    return [(op, microseconds / total) for op, microseconds in durations.most_common(n)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--input-dir", default=common.FASHION_MNIST_DIR)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        jobs = {
            "preprocessing (Fashion-MNIST, local runner)": [
                sys.executable, "-m", "pipeline.preprocess", "--input-dir", args.input_dir, "--output-dir", data_dir,
            ],
            "training (the default model, 600 steps)": [
                sys.executable, "-m", "trainer.task", "--data-dir", data_dir, "--job-dir", os.path.join(work, "job"),
                "--train-steps", "600", "--save-checkpoints-steps", "600",
            ],
        }  # fmt: skip
        for title, command in jobs.items():
            collapsed = os.path.join(work, "profile.txt")
            record(command, collapsed)
            costs = top_costs(collapsed)
            print(f"## {title}")
            for kind in ("self", "inclusive"):
                print(f"{kind}: " + "; ".join(f"{name} {100 * share:.0f}%" for name, share in costs[kind]))
    print("## training step, TensorFlow ops (ProfilerHook)")
    print("; ".join(f"{op} {100 * share:.0f}%" for op, share in op_profile()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
