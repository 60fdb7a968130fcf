"""The one error hierarchy of mixvote.

Every failure the project reports derives from :class:`MixvoteError`. Adapters (the websocket
handlers, the Flask error handler, the CLIs) map these classes to their medium in one place each.
Verifiers return ``None`` or raise one of these with a reason that names what failed and where.
"""

from __future__ import annotations


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
