"""`reconciler emulator`: run the Alpaca-compatible broker emulator on 127.0.0.1, so demos and tests exercise
the real adapter without an account or the network."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path

from reconciler import calendars, files
from reconciler.emulator import Emulator, EmulatorServer, Faults
from reconciler.errors import ReconcilerError
from reconciler.workspace.yamlpos import load_documents


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the emulator's flags: its seed, faults and ports; main builds the parser from each command's.
    Declare the emulator's flags: its seed, faults and ports; main builds the parser from each command's."""
    p.add_argument("--seed", required=True, help="YAML/JSON: accounts (key_id, secret, cash, positions),"
                   " prices")
    p.add_argument("--faults", help="YAML/JSON of fault knobs (see reconciler/emulator/faults.py)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    p.add_argument("--stream-port", type=int, default=0,
                   help="port on 127.0.0.1 of the trade_updates websocket (default: any free port); set"
                   " broker.stream_url to the ws:// URL it prints")
    p.add_argument("--settlement-days", type=int, default=1)
    p.add_argument("--calendar", default="XNYS",
                   help="exchange calendar for the clock, sessions and settlement (default XNYS: closed at"
                   " night, on weekends and holidays, as Alpaca is)")
    p.add_argument("--always-open", action="store_true",
                   help="no calendar: the market is open at any hour (for trying orders at night)")


def run(args: argparse.Namespace) -> int:
    """Serve the Alpaca emulator until interrupted, printing its URLs for the workspace."""
    def load(path: str) -> dict[str, object]:
        # Through the file gate and the one guarded YAML loader (JSON is YAML): named on the command line, so
        # it may be anywhere, but a FIFO, a huge file or a nesting bomb is refused like in any other file.
        docs = list(load_documents(Path(path), files.SEED))
        if len(docs) != 1 or not isinstance(docs[0].data, dict):
            raise ReconcilerError(
                "not one mapping", where=path,
                fix="one YAML or JSON mapping (see reconciler/emulator/faults.py)"
            )
        data: dict[str, object] = docs[0].data
        return data

    seed = load(args.seed)
    try:
        given = load(args.faults) if args.faults else {}
        knobs = {k: float(v) if isinstance(v, Decimal) else v for k, v in given.items()}  # knobs are floats
        faults = Faults(**knobs)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ReconcilerError(
            f"unknown fault knob: {exc}", where=args.faults, fix="see the emulator's docs"
        ) from None
    calendar = None
    if not args.always_open:
        try:
            calendar = calendars.check_code(args.calendar)
        except ValueError as exc:
            raise ReconcilerError(
                str(exc), where="--calendar", fix="give an ISO MIC such as XNYS, or --always-open"
            ) from None
    server = EmulatorServer(Emulator(seed, faults, args.settlement_days, calendar=calendar), port=args.port,
                            stream_port=args.stream_port)
    server.stream.start()
    print(f"emulator listening on {server.url}", flush=True)
    print(f"trade updates stream on {server.stream_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stream.shutdown()
        server.server_close()
    sys.stdout.flush()
    return 0
