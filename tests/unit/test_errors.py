"""crypto.errors: one hierarchy; one table from class to HTTP status, websocket code, exit code."""

from __future__ import annotations

import inspect
import pickle

import pytest

from crypto import errors
from crypto.dkg import DkgAborted
from crypto.errors import (
    ERROR_TABLE,
    EXIT_INTERNAL,
    EXIT_REJECTED,
    EXIT_USAGE,
    ConfigError,
    InternalError,
    InvalidElement,
    InvalidProof,
    MalformedInput,
    MixvoteError,
    ProtocolViolation,
    UnknownElection,
    UsageError,
    error_class,
    medium_of,
)


def test_every_error_class_is_in_the_hierarchy_and_the_table() -> None:
    classes = [c for _n, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, Exception)]
    assert classes and all(issubclass(c, MixvoteError) for c in classes)
    assert set(classes) == set(ERROR_TABLE)
    codes = [row.ws_code for row in ERROR_TABLE.values()]
    assert len(codes) == len(set(codes))  # one websocket code per class


def test_the_classes_that_lived_elsewhere_are_subclasses_now() -> None:
    from crypto.io import commands
    from experiments import grid

    assert grid.ConfigError is ConfigError and issubclass(ConfigError, UsageError)
    assert commands.UsageError is UsageError and commands.ConfigError is ConfigError
    assert issubclass(UnknownElection, ProtocolViolation)


@pytest.mark.parametrize(
    ("exc", "http", "code", "exit_code"),
    [
        (MalformedInput("x"), 400, "malformed", EXIT_REJECTED),
        (InvalidElement("x"), 400, "invalid-element", EXIT_REJECTED),
        (InvalidProof("x"), 400, "invalid-proof", EXIT_REJECTED),
        (ProtocolViolation("x"), 409, "protocol-violation", EXIT_REJECTED),
        (UnknownElection("x"), 404, "unknown-election", EXIT_REJECTED),
        (DkgAborted("x"), 409, "protocol-violation", EXIT_REJECTED),  # by its MRO
        (UsageError("x"), 400, "usage", EXIT_USAGE),
        (ConfigError("x"), 400, "config", EXIT_USAGE),
        (InternalError("x"), 500, "internal-error", EXIT_INTERNAL),
        (KeyError("a bug"), 500, "internal-error", EXIT_INTERNAL),  # outside the hierarchy
        (ValueError("misuse"), 500, "internal-error", EXIT_INTERNAL),
    ],
)
def test_medium_of_walks_the_mro(exc: BaseException, http: int, code: str, exit_code: int) -> None:
    row = medium_of(exc)
    assert (row.http_status, row.ws_code, row.exit_code) == (http, code, exit_code)
    assert medium_of(type(exc)) == row


def test_error_class_names_the_nearest_listed_class() -> None:
    assert error_class(DkgAborted("x")) is ProtocolViolation
    assert error_class(InvalidElement) is InvalidElement
    assert error_class(RuntimeError()) is InternalError


def test_errors_cross_process_boundaries() -> None:
    # Checks run in worker processes raise these; they must pickle back unchanged.
    for cls in ERROR_TABLE:
        again = pickle.loads(pickle.dumps(cls("reason")))
        assert type(again) is cls and str(again) == "reason"
