"""``mixserver --data DIR [--host 127.0.0.1] [--port P]``: run the election server.

Prints its URLs and the admin token (also kept in ``DIR/admin_token``, mode 0600). Exit codes
(:mod:`crypto.io.commands`):
0 on a clean stop (Ctrl-C / SIGTERM), 1 when the server cannot start, 2 for bad
arguments, 3 for an internal error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets

from crypto.io.commands import (
    EXIT_FAILED,
    EXIT_OK,
    ArgumentParser,
    add_version,
    port_or_any,
    positive_float,
    positive_int,
    run_main,
)
from mixserver import jobs


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="mixserver",
        description="mixvote election server: node websockets, JSON API and web UI on one port. "
        "Prints its URLs and the admin token (also kept in DATA/admin_token, mode 0600). "
        "Exit status: 0 after a clean stop (Ctrl-C, SIGTERM), 1 when the server cannot start, "
        "2 for bad arguments.",
    )
    add_version(p, "mixserver")
    p.add_argument("--data", required=True, type=Path, help="data directory (SQLite board, keys)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=port_or_any, default=8080, help="port 1-65535 (default 8080; 0 = any free)"
    )
    p.add_argument(
        "--workers", type=positive_int, default=1, help="processes verifying proofs (default 1)"
    )
    p.add_argument(
        "--hop-timeout",
        type=positive_float,
        default=600.0,
        help="seconds a node may take for its shuffle before it is skipped (default 600)",
    )
    p.add_argument(
        "--connect-grace",
        type=positive_float,
        default=30.0,
        help="seconds to wait for a disconnected node before skipping its hop (default 30)",
    )
    p.add_argument(
        "--dkg-timeout",
        type=positive_float,
        default=60.0,
        help="seconds per DKG round (default 60)",
    )
    p.add_argument("--no-webui", action="store_true", help="serve the JSON API only")
    p.add_argument("--verbose", "-v", action="store_true", help="log at INFO level")
    return p


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if args.data.exists() and not args.data.is_dir():
        build_parser().error(f"--data {args.data}: not a directory")
    return args


async def serve(args: argparse.Namespace) -> None:
    from mixserver.app import make_app
    from mixserver.coordinator import Config, Coordinator
    from mixserver.services import ElectionServices

    loop = IOLoop.current()  # captured once, here, at start-up
    services = ElectionServices(args.data, loop=loop, coordinator=Coordinator)
    pool = ProcessPoolExecutor(
        max_workers=args.workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=jobs.init_worker,
        initargs=(os.getpid(),),
    )
    Coordinator.configure(
        services,
        loop,
        pool,
        Config(
            hop_timeout=args.hop_timeout,
            connect_grace=args.connect_grace,
            dkg_timeout=args.dkg_timeout,
            verify_workers=max(1, args.workers),
        ),
    )
    app = make_app(services, Coordinator, with_webui=not args.no_webui)
    sockets = bind_sockets(args.port, args.host)
    server = HTTPServer(app, max_buffer_size=1 << 28)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    base = f"http://{args.host}:{port}"
    print(f"mixserver listening on {base}/", flush=True)
    print(f"  node websocket:   ws://{args.host}:{port}/ws/node", flush=True)
    print(f"  status websocket: ws://{args.host}:{port}/ws/status/<election>", flush=True)
    print(f"  JSON API:         {base}/api/elections", flush=True)
    print(
        f"  admin token:      {services.admin_token}  (in {args.data / 'admin_token'})", flush=True
    )
    Coordinator.resume()
    stop = asyncio.Event()
    aio = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        aio.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    pool.shutdown(wait=False, cancel_futures=True)
    services.db.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

    def body() -> int:
        try:
            asyncio.run(serve(args))
        except OSError as exc:
            print(f"mixserver: cannot start: {exc}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK

    return run_main("mixserver", body)


if __name__ == "__main__":
    sys.exit(main())
