"""``python -m xero_sandbox``: serve the Xero sandbox on 127.0.0.1."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from xero_sandbox.app import create_app
from xero_sandbox.persistence import attach_database
from xero_sandbox.seed import load_file, seed_demo
from xero_sandbox.state import SandboxState

# How long an idle keep-alive connection stays open. api.xero.com answers through Akamai
# (its HTML 400 for an over-long URL: XeroAPI/xero-ruby#178), whose client-to-edge
# persistent connections time out after 500 s by default (techdocs.akamai.com,
# "Persistent Connections: Client to Edge"). uvicorn's default of 5 s closed connections
# clients had every reason to reuse: an SDK process sleeping out a Retry-After then sent
# into a closing socket (ProtocolError 'Connection aborted'), which Xero would not cause.
KEEP_ALIVE_SECONDS = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m xero_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5050, help="port (default 5050; 0 = any)")
    parser.add_argument("--seed-demo", action="store_true", help="load the demo organisations")
    parser.add_argument("--seed", metavar="FILE", help="load a JSON seed file")
    parser.add_argument("--db", metavar="PATH", help="keep state in this SQLite file")
    parser.add_argument(
        "--validate",
        action="store_true",
        help="check every response against Xero's OpenAPI spec (GET /__sandbox/violations)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    state = SandboxState()
    if args.db:
        state.shutdown_hooks.append(attach_database(state, args.db).stop)
    if not state.restored:
        if args.seed_demo:
            seed_demo(state)
        if args.seed:
            load_file(state, args.seed)
    if args.validate:
        from xero_sandbox.conformance import XeroSpec

        state.validator = XeroSpec.load()
    logging.basicConfig(level=args.log_level.upper())
    config = uvicorn.Config(
        create_app(state),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
