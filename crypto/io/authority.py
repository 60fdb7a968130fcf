"""``mixvote-credentials``: the credential authority, a command meant to run away from the server.

It makes the voters' signing keys and signs the list of their public halves; only that signed list
(``public-credentials.json``) goes to the election server. The model and the file formats are in
``docs/trust.md``; the cryptography is :mod:`crypto.credentials`.

* ``mixvote-credentials keygen --out authority.key`` — a new authority key (Ed25519, PKCS#8 PEM),
  created with mode 0600 and never overwritten; prints the public key.
* ``mixvote-credentials generate --authority authority.key --election ID --count N --out DIR
  [--test]`` — N fresh credentials: ``DIR/private/credentials.csv`` (voter id, credential),
  ``DIR/private/cards/<voter id>.txt`` (one printable card per voter; 0600, directories 0700) and
  ``DIR/public-credentials.json`` (the sorted public credentials signed by the authority).
* ``mixvote-credentials verify DIR/public-credentials.json [--authority-key HEX] [--election ID]``
  — checks the list and prints its digest.
* ``mixvote-credentials fill-fingerprint DIR --fingerprint HEX`` — writes the election fingerprint
  (known once the nodes have joined) on every card that still has the blank line for it.

Exit status: 0 done / accepted, 1 the list is rejected, 2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from crypto.credentials import (
    MAX_CREDENTIALS,
    Credential,
    CredentialList,
    credential_from_private,
    credential_list_digest,
    decode_credential_list,
    encode_credential_list,
    generate_credential,
    sign_credential_list,
    verify_credential_list,
)
from crypto.errors import MixvoteError
from crypto.fingerprint import FINGERPRINT_SIZE, format_fingerprint
from crypto.io.commands import ArgumentParser, add_version, election_id

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
#: Counts from this size up get a progress bar (unless --progress / --no-progress says otherwise).
PROGRESS_MIN = 1000
MAX_LIST_BYTES = 200 * 2**20
PROG = "mixvote-credentials"
FINGERPRINT_BLANK = "    " + " ".join(["____"] * 8) + "   " + " ".join(["____"] * 8)


class UsageError(Exception):
    """A problem with the arguments or the files named: one line on stderr, exit status 2."""


def _count(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_CREDENTIALS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_CREDENTIALS}, got {value}")
    return value


def _hex_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise argparse.ArgumentTypeError("must be 64 hex digits (an Ed25519 public key)")
    return key


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=PROG,
        description=(
            "The credential authority of a mixvote election. It makes one Ed25519 signing key "
            "per voter (the voter's credential), writes the private credentials for distribution "
            "(a CSV and one printable card per voter) and the list of public credentials signed "
            "with the authority's own key. Only public-credentials.json goes to the election "
            "server; run this on a machine the server's operator does not control. "
            "Exit status: 0 done, 1 list rejected, 2 usage error or unreadable input."
        ),
    )
    add_version(parser, PROG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=ArgumentParser)

    keygen = sub.add_parser(
        "keygen", help="create the authority's signing key",
        description="Create a new authority key (Ed25519, PKCS#8 PEM, mode 0600). An existing "
        "file is never overwritten. Prints the public key, which the election admin and the "
        "verifier use to check the credential list.",
    )
    keygen.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="where to write the key (must not exist)")

    generate = sub.add_parser(
        "generate", help="create the voters' credentials and the signed public list",
        description="Create COUNT credentials for election ELECTION: DIR/private/credentials.csv "
        "and DIR/private/cards/<voter id>.txt (secret: hand each card to its voter, then destroy "
        "the directory) and DIR/public-credentials.json (upload it to the server).",
    )
    generate.add_argument("--authority", required=True, type=Path, metavar="KEYFILE",
                          help="the authority key written by keygen")
    generate.add_argument("--election", required=True, type=election_id, metavar="ID",
                          help="the election id the credentials are for")
    generate.add_argument("--count", required=True, type=_count, metavar="N",
                          help=f"number of voters (1 to {MAX_CREDENTIALS})")
    generate.add_argument("--out", required=True, type=Path, metavar="DIR",
                          help="output directory (must not exist or be empty)")
    generate.add_argument("--test", action="store_true",
                          help="mark the list and the cards as belonging to a test election")
    bars = generate.add_mutually_exclusive_group()
    bars.add_argument("--progress", dest="progress", action="store_true", default=None,
                      help="always show a progress bar (on stderr)")
    bars.add_argument("--no-progress", dest="progress", action="store_false",
                      help="never show a progress bar")

    verify = sub.add_parser(
        "verify", help="check a signed public credential list",
        description="Check public-credentials.json: its form, that the keys are sorted, distinct "
        "and valid, and the authority's signature. Prints the list's digest (part of the "
        "election fingerprint).",
    )
    verify.add_argument("file", type=Path, metavar="FILE", help="public-credentials.json")
    verify.add_argument("--authority-key", type=_hex_key, metavar="HEX",
                        help="require this authority public key")
    verify.add_argument("--election", type=election_id, metavar="ID",
                        help="require this election id")
    fill = sub.add_parser(
        "fill-fingerprint", help="write the election fingerprint on the cards",
        description="Write the election fingerprint (shown on the election page once the nodes "
        "have joined) on every card in DIR/private/cards that still has the blank line for it. "
        "A card that already carries a different fingerprint is an error.",
    )
    fill.add_argument("dir", type=Path, metavar="DIR", help="the directory given to generate")
    fill.add_argument("--fingerprint", required=True, type=_fingerprint, metavar="HEX",
                      help="the full fingerprint: 64 hex digits (spaces and hyphens ignored)")
    return parser


def _fingerprint(text: str) -> bytes:
    compact = "".join(text.split()).replace("-", "")
    try:
        fp = bytes.fromhex(compact)
    except ValueError:
        fp = b""
    if len(fp) != FINGERPRINT_SIZE:
        raise argparse.ArgumentTypeError("must be the full fingerprint, 64 hex digits")
    return fp


def fingerprint_line(fingerprint: bytes) -> str:
    """The card line for a fingerprint: the layout of the blank line, filled in."""
    groups = format_fingerprint(fingerprint).split(" ")
    return "    " + " ".join(groups[:8]) + "   " + " ".join(groups[8:])


# --- files ---------------------------------------------------------------------------------------
@contextmanager
def _create(path: Path, mode: int) -> Iterator[IO[str]]:
    """A new text file created with ``mode`` from the start (O_EXCL: never overwrite)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise UsageError(f"{path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        yield handle


def _mkdir_private(path: Path) -> None:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        raise UsageError(f"{path} already exists; refusing to mix two credential sets") from None
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror}") from None
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; be exact


def write_authority_key(path: Path, credential: Credential) -> None:
    """The authority's key as unencrypted PKCS#8 PEM, created 0600."""
    key = Ed25519PrivateKey.from_private_bytes(credential.private)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode("ascii")
    with _create(path, 0o600) as out:
        out.write(pem)


def read_authority_key(path: Path) -> Credential:
    """Load an authority key written by :func:`write_authority_key`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the authority key {path}: {exc.strerror}") from None
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise UsageError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return credential_from_private(key.private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                                     NoEncryption()))


def card_text(election_id: str, credential: Credential, test: bool) -> str:
    """The printable card of one voter."""
    lines = [
        "mixvote voter credential",
        "========================",
        "",
        f"Election:     {election_id}",
        f"Voter id:     {credential.voter_id}",
        f"Credential:   {credential.printed}",
        "",
        "Election fingerprint (written in by the election admin; check that it is the one shown",
        "on the election page and in the voting booth before you vote):",
        "",
        FINGERPRINT_BLANK,
        "",
        "Keep this card secret: whoever holds the credential can vote in your name. It never",
        "leaves your browser or voting client; nobody will ever ask you to send it.",
    ]
    if test:
        lines[3:3] = ["TEST ELECTION: these credentials are for testing, not for a real vote.", ""]
    return "\n".join(lines) + "\n"


def _bar(total: int, enabled: bool | None, desc: str) -> Any:
    from tqdm import tqdm

    show = enabled if enabled is not None else total >= PROGRESS_MIN
    return tqdm(total=total, desc=desc, unit="voter", file=sys.stderr, leave=False,
                disable=not show)


# --- commands ------------------------------------------------------------------------------------
def run_keygen(args: argparse.Namespace, out: TextIO) -> int:
    credential = generate_credential()
    write_authority_key(args.out, credential)
    print(f"authority key written to {args.out} (mode 0600); keep it offline", file=out)
    print(f"authority public key: {credential.public.hex()}", file=out)
    return EXIT_OK


def run_generate(args: argparse.Namespace, out: TextIO) -> int:
    authority = read_authority_key(args.authority)
    root: Path = args.out
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(f"{root} exists and is not an empty directory")
    root.mkdir(parents=True, exist_ok=True)
    private = root / "private"
    _mkdir_private(private)
    _mkdir_private(private / "cards")
    publics: list[bytes] = []
    bar = _bar(args.count, args.progress, "credentials")
    try:
        with _create(private / "credentials.csv", 0o600) as csv:
            csv.write("voter_id,credential\n")
            for _ in range(args.count):
                credential = generate_credential()
                publics.append(credential.public)
                csv.write(f"{credential.voter_id},{credential.printed}\n")
                with _create(private / "cards" / f"{credential.voter_id}.txt", 0o600) as card:
                    card.write(card_text(args.election, credential, args.test))
                bar.update(1)
    finally:
        bar.close()
    clist = sign_credential_list(authority.private, args.election, publics, test=args.test)
    with _create(root / "public-credentials.json", 0o644) as public:
        json.dump(encode_credential_list(clist), public, indent=1)
        public.write("\n")
    print(f"{args.count} credentials for election {args.election}"
          f"{' (test election)' if args.test else ''}", file=out)
    print(f"private (hand out, then destroy): {private}", file=out)
    print(f"public (upload to the server):    {root / 'public-credentials.json'}", file=out)
    print(f"credential list digest: {credential_list_digest(clist).hex()}", file=out)
    return EXIT_OK


def load_credential_list(path: Path) -> CredentialList:
    """Read and parse (not verify) a public-credentials.json file."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_LIST_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_LIST_BYTES:
        raise UsageError(f"{path} is larger than {MAX_LIST_BYTES} bytes")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UsageError(f"{path} is not JSON") from None
    try:
        return decode_credential_list(obj, str(path))
    except MixvoteError as exc:
        raise UsageError(str(exc)) from None


def run_verify(args: argparse.Namespace, out: TextIO) -> int:
    clist = load_credential_list(args.file)
    try:
        verify_credential_list(clist, args.authority_key, str(args.file))
        if args.election is not None and clist.election_id != args.election:
            raise MixvoteError(
                f"{args.file}: for election {clist.election_id!r}, not {args.election!r}"
            )
    except MixvoteError as exc:
        print(f"REJECTED: {exc}", file=out)
        return EXIT_REJECTED
    print(f"OK: {len(clist.credentials)} public credentials for election {clist.election_id}"
          f"{' (test election)' if clist.test else ''}", file=out)
    print(f"authority public key:   {clist.authority.hex()}", file=out)
    print(f"credential list digest: {credential_list_digest(clist).hex()}", file=out)
    return EXIT_OK


def run_fill_fingerprint(args: argparse.Namespace, out: TextIO) -> int:
    cards_dir: Path = args.dir / "private" / "cards"
    if not cards_dir.is_dir():
        raise UsageError(f"{cards_dir} is not a directory (give the directory used by generate)")
    line = fingerprint_line(args.fingerprint)
    filled = already = 0
    for card in sorted(cards_dir.glob("*.txt")):
        try:
            text = card.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {card}: {exc}") from None
        lines = text.split("\n")
        if FINGERPRINT_BLANK in lines:
            lines[lines.index(FINGERPRINT_BLANK)] = line
            fd = os.open(card, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write("\n".join(lines))
            filled += 1
        elif line in lines:
            already += 1
        else:
            raise UsageError(f"{card} carries another fingerprint (or is not a card)")
    if not filled + already:
        raise UsageError(f"no cards in {cards_dir}")
    print(f"fingerprint written on {filled} cards ({already} already had it): "
          f"{format_fingerprint(args.fingerprint)}", file=out)
    return EXIT_OK


COMMANDS = {
    "keygen": run_keygen,
    "generate": run_generate,
    "verify": run_verify,
    "fill-fingerprint": run_fill_fingerprint,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of ``mixvote-credentials``; returns the exit status."""
    args = build_parser().parse_args(argv)
    stdout = out or sys.stdout
    try:
        return COMMANDS[args.command](args, stdout)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a write that fails half-way (disk full, permissions changed)
        print(f"{PROG}: error: {exc.filename or 'output'}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
