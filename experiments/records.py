"""Raw run records of ``mixbench run``: one dict per election, appended to ``records.jsonl``
(the source of truth), mirrored to ``records.json`` (one JSON list) and ``records.csv`` (flat
columns; nested values as JSON text). ``mixbench plot`` reads only these files.

A record holds the run's configuration and ``key`` (what resume matches on), the environment
(commit, host, library versions), the per-phase timings in seconds, per-hop times, sizes in bytes,
peak memory per process in MiB and, for fault runs, the times to detect and to recover.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

CONFIG_FIELDS = (
    "group", "ballots", "nodes", "threshold", "width", "workers", "fault", "repetition",
)  # fmt: skip

#: The CSV columns, in order (a record's other keys are JSON-only).
CSV_FIELDS = (
    "key", *CONFIG_FIELDS, "status", "error", "correct", "started", "commit", "host",
    "wall", "keygen", "ballot_generation", "casting", "mixing", "decryption", "mix_and_decrypt",
    "verify_record", "verify_status", "mixing_ballots_per_s",
    "hop_node_mean", "hop_verify_mean", "hops_accepted", "hops_skipped", "hops_rejected",
    "fault_detect", "fault_recover",
    "record_bytes", "proof_bytes_per_hop", "ciphertext_bytes",
    "peak_rss_server_mb", "peak_rss_node_max_mb", "peak_rss_demo_mb",
    "hops", "peak_rss_mb", "versions",
)  # fmt: skip

#: Phases whose seconds a record holds (plots and summaries use these names).
TIMED_PHASES = (
    "keygen", "casting", "hop_node_mean", "hop_verify_mean", "mixing", "decryption",
    "verify_record",
)  # fmt: skip


class RecordError(Exception):
    """Records that cannot be read (missing file, bad JSON, not a list of records)."""


def run_key(point: Mapping[str, Any]) -> str:
    """The identity of a run: its configuration, canonically."""
    return " ".join(f"{name}={point[name]}" for name in CONFIG_FIELDS)


def append_record(out_dir: Path, record: Mapping[str, Any]) -> None:
    """Append one record to ``records.jsonl`` and ``records.csv`` and rewrite ``records.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "records.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
    csv_path = out_dir / "records.csv"
    new = not csv_path.exists() or csv_path.stat().st_size == 0
    with open(csv_path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({k: _csv_value(record.get(k)) for k in CSV_FIELDS})
    records = load_records(out_dir)
    (out_dir / "records.json").write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")


def _csv_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else value


def load_records(source: Path) -> list[dict[str, Any]]:
    """Records from a results directory (its ``records.jsonl``, else ``records.json``) or from a
    ``.jsonl`` / ``.json`` file. A torn last line (an interrupted append) is ignored."""
    path = source
    if source.is_dir():
        path = source / "records.jsonl"
        if not path.exists():
            path = source / "records.json"
        if not path.exists():
            return []
    if not path.exists():
        raise RecordError(f"{source}: no such file or directory")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        lines = [line for line in text.splitlines() if line.strip()]
        records = []
        for i, line in enumerate(lines):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                if i == len(lines) - 1:
                    break  # a run interrupted while appending: drop its half line
                raise RecordError(f"{path}:{i + 1}: not JSON ({exc})") from None
    else:
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}: not JSON ({exc})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RecordError(f"{path}: expected a list of records (JSON objects)")
    for i, r in enumerate(records):
        missing = [k for k in ("key", "status", *CONFIG_FIELDS) if k not in r]
        if missing:
            raise RecordError(f"{path}: record {i} lacks {', '.join(missing)}")
    return records


def recorded_keys(records: Iterable[Mapping[str, Any]]) -> set[str]:
    return {str(r["key"]) for r in records}
