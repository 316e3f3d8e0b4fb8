"""The what-if section of the plan comment, timed: a pull request that tilts the targets of 20 stocks, whose
old and new targets are backtested side by side over ten years of daily closes (the sp500 dataset bundled
in the skfolio wheel, 2,500 rows × 20 symbols) under the default rule (threshold, the portfolio's bands),
with taxes.

Target (issue 25 §2): under 10 s on a 2-core runner, for every pull request. Measured two ways: in a fresh
interpreter, as the plan job pays it (Python's start, the imports of numpy, pandas and the backtester,
reading the price file, both backtests, the rendering), and in process (the work alone), against a baseline
measured beside it: pandas reading the same price file (`pd.read_csv`, the work no backtest can skip). The
ratio is what `make bench-check` guards. The rendered section is recorded too: the README shows it.

    python bench/whatif.py            time it, record bench/results/whatif.json (then readme_tables.py)
    python bench/whatif.py --once     one run in this interpreter, its seconds on the last line (the cold run)
"""

from __future__ import annotations

import argparse
import gzip
import io
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import ROOT, commit_line, planted, record

EXAMPLES = ROOT / "examples" / "backtest"
TARGET_SECONDS = 10.0


def section() -> tuple[str, int, int]:
    """The what-if section of the case, rendered; with the symbols and rows it backtested."""
    from reconciler.backtest.whatif import Change, compare, price_table
    from reconciler.render.markdown import what_if_blocks
    from reconciler.runtime import Runtime
    from reconciler.workspace.loader import load_workspace
    from reconciler.workspace.whatif import WhatIf

    config = EXAMPLES / "reconciler.yaml"
    old = next(p for p in load_workspace(config, accounts=False).portfolios if p.name == "sp500-20")
    symbols = sorted(old.targets)
    # The pull request: the first ten stocks from 5% to 7%, the last ten from 5% to 3%.
    tilted = {s: Decimal("0.07") if k < 10 else Decimal("0.03") for k, s in enumerate(symbols)}
    new = old.model_copy(update={"targets": tilted})
    settings = WhatIf(dataset="sp500", years=10, tax_short=Decimal("0.35"), tax_long=Decimal("0.15"))
    costs = Runtime(config_path=config, read_only=True).costs  # the example broker's: 5 bps, $1 an order
    table = price_table(settings, EXAMPLES, EXAMPLES)
    report = compare([Change("sp500-20", old, new)], table, settings, costs)
    return "".join(what_if_blocks(report)), len(symbols), report.rows


def baseline() -> float:
    """Seconds pandas takes to read the same price file, decompressed in memory first (any run's floor)."""
    import pandas as pd

    from reconciler.backtest.data import DATASETS, load_dataset

    load_dataset("sp500")  # fails clearly without the skfolio wheel
    import importlib.util

    spec = importlib.util.find_spec("skfolio")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / DATASETS["sp500"][0]
    raw = gzip.decompress(path.read_bytes())
    t = time.perf_counter()
    pd.read_csv(io.BytesIO(raw))
    return time.perf_counter() - t


def measure(repeat: int = 3, cold: int = 2) -> dict[str, Any]:
    """In-process seconds and the baseline, best of `repeat`; fresh-interpreter seconds, best of `cold`."""
    section()  # warm: imports and the dataset's first read are the cold run's to count
    warm, base = [], []
    for _ in range(repeat):
        base.append(baseline())
        t = time.perf_counter()
        text, symbols, rows = section()
        warm.append((time.perf_counter() - t) * planted())
    fresh = [float("nan")] if not cold else []
    for _ in range(cold):
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--once"], check=True, capture_output=True, cwd=ROOT)
        fresh.append((time.perf_counter() - t) * planted())
    return {
        "symbols": symbols, "rows": rows, "seconds": min(warm), "cold_seconds": min(fresh),
        "baseline_seconds": min(base), "ratio": round(min(warm) / min(base), 2),
        "target_seconds": TARGET_SECONDS,
        "excerpt": text,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--once", action="store_true", help="one run in this interpreter (the cold timing's)")
    args = ap.parse_args()
    if args.once:
        section()
        return 0
    print(commit_line())
    f = measure()
    print(f"{f['symbols']} symbols x {f['rows']:,} rows, old and new targets: {f['cold_seconds']:.2f} s in a"
          f" fresh interpreter (target < {TARGET_SECONDS:.0f} s), {f['seconds']:.2f} s in process;"
          f" pandas reads the file in {f['baseline_seconds']:.3f} s: ratio {f['ratio']:.1f}x")
    record("whatif", f)
    return 0 if f["cold_seconds"] < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
