"""The universal verifier: re-check a whole election from its exported record, with no server.

See :mod:`crypto.verify.driver` for the stages and :func:`verify_record` for the entry point.
"""

from crypto.verify.driver import (
    PHASE_RANK,
    RECORD_FORMAT,
    Check,
    RecordReport,
    check_hop,
    check_share,
    verify_record,
)

__all__ = [
    "PHASE_RANK",
    "RECORD_FORMAT",
    "Check",
    "RecordReport",
    "check_hop",
    "check_share",
    "verify_record",
]
