"""The one report type of mixvote's verifiers: every check made, in order, each failure with
where it applies and the error class that says why.

Both the record verifier (:mod:`crypto.verify`) and the checker of Verificatum proof directories
(:mod:`crypto.verificatum.directory`) return a :class:`Report`; it lives in the maths layer so
that both can use it. A failure keeps the *class* of the error that caused it (from
:data:`crypto.errors.ERROR_TABLE`), so :meth:`Report.raise_for_failure` raises that class again
without rebuilding it from a name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crypto.errors import InvalidProof, MalformedInput, MixvoteError, error_class

#: ``progress(stage, done, total)``, called as work advances.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Check:
    """One check: its name, where it applies (entry, ballot, hop, node, file), the outcome and
    why; ``error`` is the error class of a failure (None: :class:`InvalidProof`)."""

    name: str
    ok: bool
    where: str = ""
    detail: str = ""
    error: type[MixvoteError] | None = None

    @classmethod
    def failed(
        cls, name: str, where: str, reason: BaseException | str, error: type[MixvoteError] | None
    ) -> Check:
        """A failure from an exception (its class, unless ``error`` is given) or a text."""
        if isinstance(reason, BaseException):
            if error is None:
                error = error_class(reason) if isinstance(reason, MixvoteError) else MalformedInput
            reason = str(reason)
        return cls(name, False, where, reason, error or InvalidProof)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "ok": self.ok, "where": self.where,
                               "detail": self.detail}
        if not self.ok:
            out["error"] = (self.error or InvalidProof).__name__
        return out

    def __str__(self) -> str:
        where = f" [{self.where}]" if self.where else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.name}{where}{detail}"


@dataclass(frozen=True)
class Report:
    """Every check made, in order; ``ok`` only if there was at least one and all passed.
    ``election_id`` and ``summary`` (ballots, rows shuffled, tally) are set for a record;
    ``subject`` names what was checked."""

    checks: tuple[Check, ...]
    election_id: str = ""
    summary: Mapping[str, Any] = field(default_factory=dict)
    subject: str = "record"

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def as_dict(self) -> dict[str, Any]:
        return {"election": self.election_id, "verdict": "accepted" if self.ok else "rejected",
                "checks": [c.as_dict() for c in self.checks],
                "failures": len(self.failures), "summary": dict(self.summary)}

    def raise_for_failure(self) -> None:
        """Return None if every check passed, else raise the first failure's error class."""
        for check in self.checks:
            if not check.ok:
                raise (check.error or InvalidProof)(str(check))
        if not self.checks:
            raise MalformedInput(f"{self.subject}: nothing was checked")


class Recorder:
    """Collects the checks of one run, in order."""

    def __init__(self) -> None:
        self.checks: list[Check] = []

    def ok(self, name: str, where: str = "", detail: str = "") -> None:
        self.checks.append(Check(name, True, where, detail))

    def fail(self, name: str, where: str, reason: BaseException | str,
             error: type[MixvoteError] | None = None) -> None:
        self.checks.append(Check.failed(name, where, reason, error))

    def failures_so_far(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]
