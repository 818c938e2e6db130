"""Run `trainer.task` as a local cluster: chief, workers, ps and an evaluator.

    python -m trainer.local_cluster --workers 1 --ps 1 --evaluator -- \\
        --data-dir out/data --job-dir out/job-dist --train-steps 2000

Picks free loopback ports, starts one process per task with its own TF_CONFIG
(as Vertex AI does for each replica of a multi-worker job), prefixes every line
of output with the task's name, stops everything on Ctrl-C or as soon as a task
fails, and exits non-zero if any task failed. For trying distribution on one
machine, and for the tests; the processes talk over 127.0.0.1 only. SIGTERM
and SIGINT sent to the launcher (a `timeout`, a CI job being cancelled) are
passed on to every task, and the launcher waits for them to end. Each task is a
whole TensorFlow process: a cluster of more than `max_tasks()` (two per core, at
least 4) is refused before any starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from common import cli
from common.errors import ConfigError
from common.net import LOOPBACK as HOST
from common.net import free_ports

POLL_SECS = 0.2
TASKS_PER_CORE = 2
MIN_TASKS = 4  # a chief, a worker, a ps and an evaluator: every role, on any machine


def max_tasks() -> int:
    """The most tasks a local cluster may have on this machine: TASKS_PER_CORE per core it may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(MIN_TASKS, TASKS_PER_CORE * cores)


def check_size(workers: int, ps: int, evaluator: bool) -> None:
    """Refuses a cluster larger than this machine can run (`max_tasks`).

    Raises:
      ConfigError: naming the count asked for, the cores and the limit.
    """
    tasks = 1 + workers + ps + int(evaluator)
    if tasks > max_tasks():
        raise ConfigError(
            f"--workers {workers} --ps {ps}{' --evaluator' if evaluator else ''}: {tasks} tasks, each a whole"
            f" TensorFlow process; this machine runs at most {max_tasks()} ({TASKS_PER_CORE} per core, at least"
            f" {MIN_TASKS})"
        )


def tf_configs(workers: int, ps: int, evaluator: bool) -> dict[str, dict]:
    """{task name: TF_CONFIG} for a chief, `workers` workers, `ps` ps and maybe an evaluator."""
    from estimator import TaskType  # TensorFlow: not needed to parse the launcher's flags

    ports = iter(free_ports(1 + workers + ps))
    cluster = {
        TaskType.CHIEF: [f"{HOST}:{next(ports)}"],
        TaskType.WORKER: [f"{HOST}:{next(ports)}" for _ in range(workers)],
        TaskType.PS: [f"{HOST}:{next(ports)}" for _ in range(ps)],
    }
    if not workers:
        del cluster[TaskType.WORKER]
    tasks = [
        (job, i)
        for job in (TaskType.PS, TaskType.CHIEF, TaskType.WORKER)
        for i in range(len(cluster.get(job, [])))
    ]
    if evaluator:
        tasks.append((TaskType.EVALUATOR, 0))
    return {f"{job}{i}": {"cluster": cluster, "task": {"type": job, "index": i}} for job, i in tasks}


def _pump(name: str, stream, out) -> None:
    for line in iter(stream.readline, ""):
        out.write(f"[{name}] {line}")
        out.flush()


def run_cluster(
    task_args: Sequence[str], workers: int, ps: int, evaluator: bool, timeout: float | None = None, out=None
) -> dict:
    """Starts the tasks, copies their output to `out` (default stdout) and waits for them.

    Returns:
      {task name: exit status}; -9 etc. for a task killed by a signal.

    Raises:
      ConfigError: more tasks than this machine may run (`check_size`).
    """
    check_size(workers, ps, evaluator)
    out = out or sys.stdout
    processes = {}
    threads = []
    previous = _stop_on_signals()
    try:
        return _run(task_args, workers, ps, evaluator, timeout, out, processes, threads)
    finally:
        _stop(processes)
        for thread in threads:
            thread.join(timeout=5)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Stopped(Exception):
    """The launcher received SIGTERM or SIGINT."""


def _stop_on_signals() -> dict:
    """Turns SIGTERM and SIGINT into _Stopped in the main thread; returns the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum, frame):
        raise _Stopped(signal.Signals(signum).name)

    return {signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGINT)}


def _run(task_args, workers, ps, evaluator, timeout, out, processes, threads) -> dict:
    for name, config in tf_configs(workers, ps, evaluator).items():
        env = dict(os.environ, TF_CONFIG=json.dumps(config), PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            [sys.executable, "-m", "trainer.task", *task_args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes[name] = process
        thread = threading.Thread(target=_pump, args=(name, process.stdout, out), daemon=True)
        thread.start()
        threads.append(thread)
    deadline = None if timeout is None else time.time() + timeout
    try:
        while any(p.poll() is None for p in processes.values()):
            failed = [n for n, p in processes.items() if p.poll() not in (None, 0)]
            if failed or (deadline and time.time() > deadline):
                reason = f"{', '.join(failed)} failed" if failed else "timed out"
                print(f"[local_cluster] {reason}: stopping all tasks", file=sys.stderr)
                break
            time.sleep(POLL_SECS)
    except (KeyboardInterrupt, _Stopped) as e:
        print(f"[local_cluster] {e or 'interrupted'}: stopping all tasks", file=sys.stderr)
    return {name: p.returncode for name, p in processes.items()}


def _stop(processes: dict) -> None:
    running = [p for p in processes.values() if p.poll() is None]
    for p in running:
        p.send_signal(signal.SIGTERM)
    end = time.time() + 10
    for p in running:
        try:
            p.wait(timeout=max(0.1, end - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


EXAMPLES = (
    "python -m trainer.local_cluster --workers 1 --ps 1 --evaluator --"
    " --data-dir out/data --job-dir out/job-dist --train-steps 2000",
    "python -m trainer.local_cluster --workers 2 --ps 1 --timeout 3600 -- --data-dir out/data --job-dir out/job-dist",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        prog="python -m trainer.local_cluster",
        description=__doc__.splitlines()[0],
        usage="%(prog)s [--workers N] [--ps N] [--evaluator] [--timeout SECS] -- TRAINER_TASK_FLAGS",
        examples=EXAMPLES,
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="workers besides the chief (range >= 0; default: 1)",
    )
    parser.add_argument(
        "--ps", type=int, default=1, metavar="N", help="parameter servers (range >= 1; default: 1)"
    )
    parser.add_argument("--evaluator", action="store_true", help="also an evaluator task")
    parser.add_argument(
        "--timeout", type=float, metavar="SECS", help="stop everything after this many seconds (range > 0)"
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    if args.ps < 1 or args.workers < 0:
        parser.error(f"--ps must be >= 1 and --workers >= 0, got --ps {args.ps} --workers {args.workers}")
    if args.timeout is not None and not args.timeout > 0:
        parser.error(f"--timeout must be > 0 seconds, got {args.timeout}")
    statuses = run_cluster(argv[split + 1 :], args.workers, args.ps, args.evaluator, args.timeout)
    print("[local_cluster] exit status: " + ", ".join(f"{n} {s}" for n, s in statuses.items()))
    return 0 if all(s == 0 for s in statuses.values()) else 1


def entry() -> None:
    """Console-script entry point."""
    cli.exit_with(main)


if __name__ == "__main__":
    entry()
