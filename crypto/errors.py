"""The one error hierarchy of mixvote, and the one table that maps it to every medium.

Every failure the project reports derives from :class:`MixvoteError`. Checks return ``None`` or
raise one of these with a reason that names what failed and where; they never return a flag or an
error name. Adapters (the websocket handlers, the HTTP error handlers, the CLIs) turn an error
into their medium with :func:`medium_of`, which reads :data:`ERROR_TABLE`: an HTTP status, a
websocket error code and a CLI exit status per class, found by walking the class's MRO, so a new
subclass inherits its parent's row. Anything that is not a :class:`MixvoteError` (a KeyError from
a bug, say) maps to the row of :class:`InternalError`.
"""

from __future__ import annotations

from typing import NamedTuple


class MixvoteError(Exception):
    """Root of every error mixvote raises on purpose."""


class MalformedInput(MixvoteError, ValueError):
    """Bytes or a message from outside that do not parse (wrong length, type, layout)."""


class InvalidElement(MalformedInput):
    """An encoding that is not a valid element of the prime-order group (off curve, wrong
    subgroup, non-canonical, or the identity where it is forbidden)."""


class InvalidProof(MixvoteError):
    """A proof whose verification equation does not hold, or which does not match its statement."""


class ProtocolViolation(MixvoteError):
    """A message that is well formed but not allowed here: wrong sender, wrong phase, replay."""


class UnknownElection(ProtocolViolation):
    """A request for an election that does not exist."""


class UsageError(MixvoteError):
    """A problem with the arguments of a command or the files they name."""


class ConfigError(UsageError):
    """A configuration that cannot be used (unreadable, unknown key, bad value)."""


class InternalError(MixvoteError):
    """A bug in mixvote: an exception no check raised on purpose."""


class Medium(NamedTuple):
    """How one class of error shows in each medium."""

    http_status: int
    ws_code: str
    exit_code: int


#: Exit statuses of the command-line tools: 0 success, 1 a check failed (the input was
#: rejected), 2 the command was used wrongly, 3 a bug in mixvote.
EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

#: The one mapping of the hierarchy to HTTP status, websocket error code and CLI exit status.
ERROR_TABLE: dict[type[MixvoteError], Medium] = {
    MixvoteError: Medium(400, "error", EXIT_REJECTED),
    MalformedInput: Medium(400, "malformed", EXIT_REJECTED),
    InvalidElement: Medium(400, "invalid-element", EXIT_REJECTED),
    InvalidProof: Medium(400, "invalid-proof", EXIT_REJECTED),
    ProtocolViolation: Medium(409, "protocol-violation", EXIT_REJECTED),
    UnknownElection: Medium(404, "unknown-election", EXIT_REJECTED),
    UsageError: Medium(400, "usage", EXIT_USAGE),
    ConfigError: Medium(400, "config", EXIT_USAGE),
    InternalError: Medium(500, "internal-error", EXIT_INTERNAL),
}


def error_class(exc: BaseException | type[BaseException]) -> type[MixvoteError]:
    """The most specific class of :data:`ERROR_TABLE` that ``exc`` (an exception or a class)
    is an instance of; :class:`InternalError` for anything outside the hierarchy."""
    cls = exc if isinstance(exc, type) else type(exc)
    for klass in cls.__mro__:
        if issubclass(klass, MixvoteError) and klass in ERROR_TABLE:
            return klass
    return InternalError


def medium_of(exc: BaseException | type[BaseException]) -> Medium:
    """The row of :data:`ERROR_TABLE` for ``exc`` (an exception or a class), by its MRO."""
    return ERROR_TABLE[error_class(exc)]


__all__ = [
    "ERROR_TABLE",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "ConfigError",
    "InternalError",
    "InvalidElement",
    "InvalidProof",
    "MalformedInput",
    "Medium",
    "MixvoteError",
    "ProtocolViolation",
    "UnknownElection",
    "UsageError",
    "error_class",
    "medium_of",
]
