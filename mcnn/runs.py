"""What each workflow run leaves in its results folder beside the outputs.

`<results_dir>/config.effective.yaml`: every setting of the run with its source (default, or the
config file / --config that set it). `<results_dir>/runs.jsonl`: one line when a run starts
(commit, date, machine, cores) and one when it ends (date, success or error), from which
`python -m mcnn results-doc` reports the commit, date, CPU, cores and wall time of each result.
The Snakefile calls `start` from `onstart` (not on dry runs, nor when nothing is to be done) and
`end` from `onsuccess`/`onerror`.

While a run goes on, `ProgressWatcher` prints to Snakemake's terminal, every `progress_every`
seconds, the last progress line (tqdm bar or log line) of each job log that changed since: the
jobs write their progress to their logs, which the terminal would otherwise not show.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from mcnn import config as mcnn_config
from mcnn.core.io import atomic_path

EFFECTIVE_CONFIG = "config.effective.yaml"
RUNS = "runs.jsonl"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else the platform's word for it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def commit(repo: Path) -> str:
    """The checked-out commit of `repo`, with `+dirty` for uncommitted changes to tracked
    files; 'unknown' outside a git checkout."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _append(results_dir: Path, record: dict) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    with open(results_dir / RUNS, "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def start(
    results_dir: str | os.PathLike,
    config: dict,
    layers: mcnn_config.Layers,
    cores: int | None,
    repo: Path,
) -> None:
    """Write the effective configuration and the run's start record."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(results_dir / EFFECTIVE_CONFIG) as tmp:
        tmp.write_text(mcnn_config.effective_yaml(config, layers))
    _append(
        results_dir,
        {
            "event": "start",
            "time": _now(),
            "commit": commit(repo),
            "config": [name for name, _ in layers],
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "cores": cores,
            "host": platform.node(),
        },
    )


def end(results_dir: str | os.PathLike, status: str) -> None:
    """The run's end record: `status` is 'success' or 'error'."""
    _append(Path(results_dir), {"event": "end", "time": _now(), "status": status})


def last_progress(path: Path, width: int = 160) -> str:
    """The last non-empty line of a log, tqdm's carriage-return updates counted as lines."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 8192))
        tail = handle.read().decode("utf-8", errors="replace")
    parts = [part.strip() for part in tail.replace("\r", "\n").split("\n")]
    last = next((part for part in reversed(parts) if part), "")
    return last if len(last) <= width else last[: width - 3] + "..."


class ProgressWatcher:
    """Prints `mcnn progress: <log>: <last line>` for each log under `logs` that changed (size or
    modification time) since the previous look, or since `start`, every `every` seconds, on a
    daemon thread; `every` 0 = never."""

    def __init__(self, logs: str | os.PathLike, every: float, stream: TextIO = sys.stderr):
        self.logs, self.every, self.stream = Path(logs), every, stream
        self._seen: dict[Path, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _states(self) -> dict[Path, tuple[int, int]]:
        states = {}
        for path in sorted(self.logs.rglob("*.log")) if self.logs.is_dir() else []:
            try:
                stat = path.stat()
            except OSError:  # a log replaced or removed meanwhile
                continue
            states[path] = (stat.st_mtime_ns, stat.st_size)
        return states

    def poll(self) -> list[str]:
        states = self._states()
        changed = []
        for path, state in states.items():
            if self._seen.get(path) != state:
                try:
                    line = last_progress(path)
                except OSError:
                    continue
                if line:
                    changed.append(f"mcnn progress: {path}: {line}")
        self._seen = states
        return changed

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            for line in self.poll():
                print(line, file=self.stream, flush=True)

    def start(self) -> ProgressWatcher:
        self._seen = self._states()
        if self.every > 0:
            self._thread = threading.Thread(target=self._loop, name="mcnn-progress", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def read(results_dir: str | os.PathLike) -> list[dict]:
    """The runs recorded in a results folder: start records with `end` and `status` added
    (None for a run still going or killed without an end record)."""
    path = Path(results_dir) / RUNS
    runs: list[dict] = []
    if not path.is_file():
        return runs
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["event"] == "start":
            runs.append({**record, "end": None, "status": None})
        elif runs and runs[-1]["end"] is None:
            runs[-1].update(end=record["time"], status=record["status"])
    return runs
