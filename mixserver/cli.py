"""``mixserver --data DIR [--host 127.0.0.1] [--port P]``: run the election server.

Prints its URLs and the admin token (also kept in ``DIR/admin_token``, mode 0600). Exit codes: 0
on a clean stop (Ctrl-C / SIGTERM), 2 for bad arguments, 1 when the server cannot start.
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

from mixserver import jobs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="mixserver",
        description="mixvote election server: node websockets, JSON API and web UI on one port.",
    )
    p.add_argument("--data", required=True, type=Path, help="data directory (SQLite board, keys)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    p.add_argument("--workers", type=int, default=1, help="processes verifying proofs (default 1)")
    p.add_argument(
        "--hop-timeout",
        type=float,
        default=600.0,
        help="seconds a node may take for its shuffle before it is skipped",
    )
    p.add_argument(
        "--connect-grace",
        type=float,
        default=30.0,
        help="seconds to wait for a disconnected node before skipping its hop",
    )
    p.add_argument("--dkg-timeout", type=float, default=60.0, help="seconds per DKG round")
    p.add_argument("--no-webui", action="store_true", help="serve the JSON API only")
    p.add_argument("--verbose", "-v", action="store_true")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    from mixserver.app import make_app
    from mixserver.coordinator import Config, Coordinator
    from mixserver.services import ElectionServices

    loop = IOLoop.current()  # captured once, here, at start-up
    services = ElectionServices(args.data, loop=loop, coordinator=Coordinator)
    pool = ProcessPoolExecutor(
        max_workers=max(1, args.workers),
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
    try:
        asyncio.run(serve(args))
    except OSError as exc:
        print(f"mixserver: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
