"""Several ``airflow`` CLI commands in one interpreter.

Every ``airflow`` process imports Airflow and its providers again (about 2 CPU seconds
here); bringing a stack up ran one per settings file and one more for the organisation
directory. ``python -m xero_demo.airflow_batch '<JSON list of argument lists>'`` parses
each list with Airflow's own CLI parser and runs it, in order, stopping at the first that
fails; ``["xero", ...]`` runs ``python -m xero_provider.connect ...`` the same way.
"""

from __future__ import annotations

import json
import sys


def run(commands: list[list[str]]) -> int:
    """Run each command; return 0, or the first failing command's exit status."""
    from airflow.cli import cli_parser

    parser = cli_parser.get_parser()
    for argv in commands:
        if argv[:1] == ["xero"]:
            from xero_provider.connect.cli import main as xero_main

            status = xero_main(argv[1:])
        else:
            args = parser.parse_args(argv)
            try:
                args.func(args)
                status = 0
            except SystemExit as stop:  # Airflow's commands exit on a refused input
                status = stop.code if isinstance(stop.code, int) else 1
                if stop.code and not isinstance(stop.code, int):
                    print(stop.code, file=sys.stderr)
        if status:
            print(f"airflow_batch: {' '.join(argv[:2])} ... exited with {status}", file=sys.stderr)
            return status
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        commands = json.loads(argv[0])
    except ValueError:
        commands = None
    if not isinstance(commands, list) or not all(
        isinstance(c, list) and c and all(isinstance(a, str) for a in c) for c in commands
    ):
        print("expected a JSON list of non-empty lists of strings", file=sys.stderr)
        return 2
    return run(commands)


if __name__ == "__main__":
    sys.exit(main())
