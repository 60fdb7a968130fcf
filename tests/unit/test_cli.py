"""Every command line with bad input: one line on stderr naming the problem, exit 2, no traceback;
``--version`` everywhere; help texts without markup or fault-injection switches.

Each case runs the command as a subprocess (``python -m``, as its console script does), so the
exit status and the exact output are the ones a user sees.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from crypto.io import commands as mixcli
from mixnode.faults import ENV as FAULT_ENV
from mixnode.faults import MODES as FAULT_MODES

ROOT = Path(__file__).resolve().parents[2]
MODULES = {
    "mixserver": "mixserver.cli",
    "mixnode": "mixnode.cli",
    "mixdemo": "mixserver.demo",
    "mixbench": "experiments.cli",
}
KEY = "@key"  # replaced by a real node identity file
FILE = "@file"  # replaced by a regular file that is not a directory / not a record


def run(
    prog: str, argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", MODULES[prog], *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "node.key"
    assert run("mixnode", ["keygen", "--out", str(path)]).returncode == 0
    return path


# (command, arguments, words the one-line message must contain)
BAD = [
    ("mixserver", ["--data", "d", "--port", "99999"], "port 99999 is outside 1-65535"),
    ("mixserver", ["--data", "d", "--port", "-1"], "outside 1-65535"),
    ("mixserver", ["--data", "d", "--port", "http"], "'http' is not an integer"),
    ("mixserver", ["--data", "d", "--workers", "0"], "'0' is not a positive integer"),
    ("mixserver", ["--data", "d", "--workers", "many"], "'many' is not an integer"),
    ("mixserver", ["--data", "d", "--hop-timeout", "0"], "not a positive number"),
    ("mixserver", ["--data", "d", "--connect-grace", "nan"], "not a finite number"),
    ("mixserver", ["--data", FILE], "not a directory"),
    ("mixserver", [], "required: --data"),
    ("mixserver", ["--data", "d", "--bogus"], "unrecognized arguments: --bogus"),
    ("mixnode", ["--server", "not a url::", "--key", KEY], "is not a URL"),
    ("mixnode", ["run", "--server", "not a url::", "--key", KEY], "is not a URL"),
    ("mixnode", ["run", "--server", "ftp://127.0.0.1", "--key", KEY], "scheme http, https"),
    ("mixnode", ["run", "--server", "http://", "--key", KEY], "has no host"),
    ("mixnode", ["run", "--server", "http://127.0.0.1:99999", "--key", KEY], "is not a URL"),
    ("mixnode", ["run", "--server", "http://127.0.0.1:8080", "--key", "nokey"], "no such file"),
    ("mixnode", ["run", "--server", "http://h:1", "--key", KEY, "--workers", "0"], "positive"),
    (
        "mixnode",
        ["run", "--server", "http://h:1", "--key", KEY, "--give-up-after", "-3"],
        "not a positive number",
    ),
    ("mixnode", ["run", "--key", KEY], "required: --server"),
    (
        "mixnode",
        ["run", "--server", "http://h:1", "--key", KEY, "--expect-fingerprint", "abc"],
        "expected 32 or 64 hex digits",
    ),
    ("mixnode", ["audit"], "required: RECORD_DIR"),
    ("mixdemo", ["--abstain", "-2"], "is negative"),
    ("mixnode", ["--key", KEY], "required: --server"),
    ("mixnode", ["keygen"], "required: --out"),
    ("mixnode", ["pubkey", "--key", "nokey"], "no such file"),
    (
        "mixnode",
        ["run", "--server", "http://h:1", "--key", KEY, "--cheat", "stall"],
        "unrecognized arguments: --cheat",
    ),
    ("mixdemo", ["--ballots", "abc"], "'abc' is not an integer"),
    ("mixdemo", ["--ballots", "-1"], "is negative"),
    ("mixdemo", ["--nodes", "0"], "not a positive integer"),
    ("mixdemo", ["--nodes", "3", "--threshold", "5"], "threshold <= nodes"),
    ("mixdemo", ["--group", "nope"], "unknown group 'nope' (known: secp256k1"),
    ("mixdemo", ["--cheat", "2:bogus"], "not POS:MODE"),
    ("mixdemo", ["--cheat", "9:forged-proof"], "node 9 does not exist"),
    ("mixdemo", ["--crash-node", "4"], "node 4 does not exist"),
    ("mixdemo", ["--pause-node", "2"], "not POS:SECONDS"),
    ("mixdemo", ["--port", "70000"], "outside 1-65535"),
    ("mixdemo", ["--timeout", "-5"], "not a positive number"),
    ("mixbench", [], "required: command"),
    ("mixbench", ["crypto", "--ballots", "abc"], "'abc' is not an integer"),
    ("mixbench", ["crypto", "--group", "nope"], "unknown group 'nope'"),
    ("mixbench", ["crypto", "--from-json", "missing.json"], "no such file"),
    ("mixbench", ["run", "--ballots", "abc"], "'abc' is not an integer"),
    ("mixbench", ["run", "--ballots", "10,0"], "'0' is not a positive integer"),
    ("mixbench", ["run", "--fault", "meteor"], "unknown fault 'meteor'"),
    ("mixbench", ["run", "--timeout", "soon"], "'soon' is not a number"),
    ("mixbench", ["run", "missing.toml"], "no such file"),
    ("mixbench", ["plot", "missing-results"], "no such file or directory"),
    ("mixbench", ["verify", "--workers", "0"], "'0' is not a positive integer"),
    ("mixbench", ["verify", "--record", "missing-record"], "no such directory"),
    ("mixbench", ["verify", "--record", "."], "not an exported election record"),
    ("mixbench", ["verify", "--nodes", "2", "--threshold", "3"], "must not exceed --nodes"),
]


@pytest.mark.parametrize(("prog", "argv", "expected"), BAD, ids=lambda x: str(x))
def test_bad_input_is_one_line_and_exit_2(
    prog: str, argv: list[str], expected: str, key: Path, tmp_path: Path
) -> None:
    argv = [str(key) if a == KEY else str(key) if a == FILE else a for a in argv]
    if argv[:2] == ["verify", "--record"] and argv[2] == ".":
        argv[2] = str(tmp_path)  # an empty directory: not a record
    result = run(prog, argv)
    assert result.returncode == mixcli.EXIT_USAGE, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{prog}"), lines[0]
    assert expected in lines[0], lines[0]
    assert result.stdout == ""


def test_unknown_fault_in_the_environment_is_a_usage_error(key: Path, tmp_path: Path) -> None:
    argv = ["run", "--server", "http://127.0.0.1:1", "--key", str(key), "--data", str(tmp_path)]
    result = run("mixnode", argv, env={FAULT_ENV: "cheat-a-little"})
    assert result.returncode == mixcli.EXIT_USAGE
    assert result.stderr.strip() == (
        f"mixnode: {FAULT_ENV}='cheat-a-little' is not a fault mode (known: "
        f"{', '.join(FAULT_MODES)})"
    )


@pytest.mark.parametrize("prog", sorted(MODULES))
def test_version(prog: str) -> None:
    result = run(prog, ["--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{prog} {metadata.version('mixvote')}"


HELPS = [
    ("mixserver", []), ("mixnode", []), ("mixnode", ["run"]), ("mixnode", ["keygen"]),
    ("mixdemo", []), ("mixbench", []), ("mixbench", ["crypto"]), ("mixbench", ["run"]),
    ("mixbench", ["plot"]), ("mixbench", ["verify"]),
]  # fmt: skip


@pytest.mark.parametrize(("prog", "sub"), HELPS, ids=lambda x: str(x))
def test_help_is_plain_text(prog: str, sub: list[str]) -> None:
    result = run(prog, [*sub, "--help"])
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "usage:" in text
    for markup in ("``", ":mod:", ":func:", ":class:", ":data:", "TEST MODE"):
        assert markup not in text, markup
    if prog == "mixnode":  # the real node has no fault switches
        assert "cheat" not in text.lower() and FAULT_ENV not in text
        assert not [m for m in FAULT_MODES if m in text]


def test_an_unwritable_output_is_an_error_not_a_bug(tmp_path: Path) -> None:
    result = run("mixnode", ["keygen", "--out", str(tmp_path / "missing-dir" / "node.key")])
    assert result.returncode == mixcli.EXIT_FAILED
    assert result.stderr.startswith("mixnode: [Errno 2] No such file or directory")
    assert "bug" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_mixnode_gives_up_on_an_unreachable_server(key: Path, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["run", "--server", f"http://127.0.0.1:{port}", "--key", str(key),
            "--data", str(tmp_path / "d"), "--give-up-after", "1.5", "--quiet"]  # fmt: skip
    t0 = time.monotonic()
    result = run("mixnode", argv)
    elapsed = time.monotonic() - t0
    assert result.returncode == mixcli.EXIT_FAILED
    assert result.stderr.strip() == (
        f"mixnode: giving up after 1.5 s without a session: ws://127.0.0.1:{port}/ws/node: "
        "[Errno 111] Connection refused"
    )
    assert 1.5 <= elapsed < 15  # the attempts stop at the give-up time, not a back-off later


# --- the shared argument types, in process ------------------------------------------------------
@pytest.mark.parametrize(
    ("convert", "text", "value"),
    [
        (mixcli.port, "1", 1), (mixcli.port, "65535", 65535), (mixcli.port_or_any, "0", 0),
        (mixcli.positive_int, "7", 7), (mixcli.non_negative_int, "0", 0),
        (mixcli.positive_float, "0.5", 0.5), (mixcli.group_name, "P-256", "P-256"),
        (mixcli.url, "http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        (mixcli.url, "wss://example.org/", "wss://example.org/"),
        (mixcli.list_of(mixcli.positive_int), "1, 2,3", [1, 2, 3]),
    ],
)  # fmt: skip
def test_argument_types_accept(convert: object, text: str, value: object) -> None:
    assert convert(text) == value  # type: ignore[operator]


@pytest.mark.parametrize(
    ("convert", "text"),
    [
        (mixcli.port, "0"), (mixcli.port, "65536"), (mixcli.port_or_any, "-1"),
        (mixcli.positive_int, "0"), (mixcli.positive_int, "1.5"), (mixcli.non_negative_int, "-1"),
        (mixcli.positive_float, "0"), (mixcli.positive_float, "inf"),
        (mixcli.positive_float, "nan"), (mixcli.group_name, "p256"),
        (mixcli.url, "127.0.0.1:8080"), (mixcli.url, "http://:80"),
        (mixcli.url, "http://h:0"), (mixcli.url, "http://[::1"),
        (mixcli.list_of(mixcli.positive_int), " , "),
    ],
)  # fmt: skip
def test_argument_types_reject(convert: object, text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        convert(text)  # type: ignore[operator]


def test_exit_codes_follow_the_error_classes() -> None:
    from crypto.errors import InvalidProof

    assert mixcli.exit_code(mixcli.UsageError("x")) == mixcli.EXIT_USAGE
    assert mixcli.exit_code(mixcli.ConfigError("x")) == mixcli.EXIT_USAGE
    assert mixcli.exit_code(InvalidProof("x")) == mixcli.EXIT_FAILED
    assert mixcli.exit_code(PermissionError(13, "Permission denied")) == mixcli.EXIT_FAILED
    assert mixcli.exit_code(KeyError("x")) == mixcli.EXIT_INTERNAL


def test_internal_error_is_reported_as_a_bug(capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> int:
        return {}["missing"]  # type: ignore[no-any-return]

    assert mixcli.run_main("tool", broken) == mixcli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.startswith("tool: internal error (this is a bug") and "KeyError" in err
    assert "Traceback" not in err
