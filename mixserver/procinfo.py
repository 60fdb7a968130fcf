"""``/proc`` readings of a process tree (Linux; elsewhere only the process itself): its members,
their peak resident memory and a signal to all of them. Used by the harness and the benchmarks."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux /proc; only ``pid`` elsewhere)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in task.read_text().split())
    return found


def peak_rss_mb(pid: int) -> float | None:
    """Largest peak resident set (VmHWM) among ``pid`` and its descendants, in MiB."""
    peaks = []
    for p in descendants(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        if m := re.search(r"^VmHWM:\s+(\d+) kB", status, re.M):
            peaks.append(int(m.group(1)) / 1024)
    return round(max(peaks), 1) if peaks else None


def signal_tree(pid: int, sig: int) -> None:
    for p in descendants(pid):
        with contextlib.suppress(OSError):
            os.kill(p, sig)
