"""Plumbing shared by the known-answer vector files ``tests/vectors/data/kat_*.json``.

Each file holds, per group, cases generated once from ``random.Random(seed)`` with their explicit
inputs next to the exact bytes; the tests regenerate and compare, and rebuild each case from its
explicit inputs. Regenerate a file only on a deliberate format change:
``python -m tests.vectors.test_kat_<name> --regen``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crypto

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class KatFile:
    name: str
    generate: Callable[[str], Any]
    spec: str
    description: str

    @property
    def path(self) -> Path:
        return DATA_DIR / f"kat_{self.name}.json"

    @property
    def command(self) -> str:
        return f"python -m tests.vectors.test_kat_{self.name} --regen"

    def load(self, group: str) -> Any:
        """The committed cases of ``group``; a group without vectors is a failure, not a skip."""
        groups = json.loads(self.path.read_text(encoding="utf-8"))["groups"]
        if group not in groups:
            raise AssertionError(f"no {self.name} KAT for {group}: run {self.command}")
        return groups[group]

    def regenerate(self) -> None:
        document = {
            "description": self.description,
            "spec": self.spec,
            "provenance": f"{self.command}, from random.Random(seed)",
            "groups": {name: self.generate(name) for name in crypto.GROUPS},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
        self.path.write_text(text, encoding="utf-8")
        print(f"wrote {self.path}")

    def backends_agree(self) -> bool:
        """Whether the fast and the reference secp256k1 backends have the same vectors."""
        return bool(self.load("secp256k1") == self.load("secp256k1-ref"))

    def main(self, argv: list[str]) -> None:
        if argv != ["--regen"]:
            sys.exit(f"usage: {self.command}")
        self.regenerate()
