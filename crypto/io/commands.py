"""Command-line conventions shared by every mixvote command (mixserver, mixnode, mixdemo, mixbench).

* :class:`ArgumentParser` reports a bad argument as one line on stderr and exits with
  :data:`EXIT_USAGE`, never a traceback or a usage dump;
* the argument types below validate what comes from the command line (ports, positive numbers,
  URLs, group names, existing files and directories) with a sentence naming what is wrong;
* :func:`add_version` gives a command ``--version`` from the installed package's metadata;
* :func:`exit_code` maps an exception to the exit status, and :func:`run_main` applies it in one
  place: a deliberate error is one line, anything else is reported as a bug (exit 3).

The exit codes are the error hierarchy's (:data:`crypto.errors.ERROR_TABLE`); an ``OSError`` (the
machine refused: an unwritable directory, a full disk) is a failure, not a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit

from crypto.errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    ConfigError,
    MixvoteError,
    UsageError,
    medium_of,
)

T = TypeVar("T")

EXIT_FAILED = EXIT_REJECTED  # failed: a rejected record, a wrong tally, a server given up on, I/O

DEBUG_ENV = "MIXVOTE_DEBUG"  # set to 1 to get the traceback of an internal error


def exit_code(exc: BaseException) -> int:
    """The exit status for an exception that ended a command (:data:`ERROR_TABLE`)."""
    if isinstance(exc, MixvoteError):
        return medium_of(exc).exit_code
    if isinstance(exc, OSError):
        return EXIT_FAILED
    return EXIT_INTERNAL


def version() -> str:
    """The installed mixvote version (package metadata)."""
    try:
        return metadata.version("mixvote")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown (not installed)"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (``prog: message (see prog --help)``) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def add_version(parser: argparse.ArgumentParser, prog: str) -> None:
    parser.add_argument(
        "--version", action="version", version=f"{prog} {version()}", help="print the version"
    )


def run_main(prog: str, body: Callable[[], int]) -> int:
    """Run a command's body; a raised error becomes one line on stderr and its exit code
    (internal errors say they are bugs; ``MIXVOTE_DEBUG=1`` adds the traceback)."""
    try:
        return body()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        code = exit_code(exc)
        if code == EXIT_INTERNAL:
            print(
                f"{prog}: internal error (this is a bug, please report it): "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            if os.environ.get(DEBUG_ENV):
                traceback.print_exc()
        else:
            print(f"{prog}: {exc}", file=sys.stderr)
        return code


# --- argument types (argparse calls them with the text; they return the value or raise) ----------
def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer (1 or more)")
    return value


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def positive_float(text: str) -> float:
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def port(text: str) -> int:
    """A TCP port, 1–65535."""
    value = _int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {text} is outside 1-65535")
    return value


def port_or_any(text: str) -> int:
    """A TCP port, 1–65535, or 0 for any free port."""
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {text} is outside 1-65535 (or 0 for any free port)")
    return value


def url(text: str, schemes: Sequence[str] = ("http", "https", "ws", "wss")) -> str:
    """A URL with one of ``schemes``, a host and a valid port (if any)."""
    try:
        parts = urlsplit(text)
        port_number = parts.port  # raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL ({exc})") from None
    if parts.scheme not in schemes:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a URL with scheme {', '.join(schemes)} (e.g. http://127.0.0.1:8080)"
        )
    if not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} has no host")
    if port_number == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: port 0 cannot be connected to")
    return text


def http_url(text: str) -> str:
    """An http(s) URL with a host (an election server)."""
    return url(text, ("http", "https"))


def election_id(text: str) -> str:
    """An election id (:func:`crypto.credentials.check_election_id`)."""
    from crypto.credentials import check_election_id

    try:
        check_election_id(text, "--election")
    except MixvoteError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def group_name(text: str) -> str:
    """A group from the registry (``crypto.GROUPS``)."""
    from crypto import GROUPS

    if text not in GROUPS:
        raise argparse.ArgumentTypeError(f"unknown group {text!r} (known: {', '.join(GROUPS)})")
    return text


def _existing(text: str, exists: Callable[[Path], bool], what: str) -> Path:
    path = Path(text)
    if not exists(path):
        raise argparse.ArgumentTypeError(f"{text}: no such {what}")
    return path


def existing_file(text: str) -> Path:
    return _existing(text, Path.is_file, "file")


def existing_dir(text: str) -> Path:
    return _existing(text, Path.is_dir, "directory")


def existing_path(text: str) -> Path:
    return _existing(text, Path.exists, "file or directory")


def list_of(convert: Callable[[str], T], what: str = "value") -> Callable[[str], list[T]]:
    """A comma-separated list of values, each checked by ``convert``."""

    def parse(text: str) -> list[T]:
        items = [x.strip() for x in text.split(",") if x.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {what}s")
        return [convert(x) for x in items]

    parse.__name__ = f"list of {what}s"
    return parse


__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "ArgumentParser",
    "ConfigError",
    "UsageError",
    "add_version",
    "existing_dir",
    "existing_file",
    "existing_path",
    "exit_code",
    "group_name",
    "list_of",
    "non_negative_int",
    "port",
    "port_or_any",
    "positive_float",
    "positive_int",
    "run_main",
    "url",
    "version",
]
