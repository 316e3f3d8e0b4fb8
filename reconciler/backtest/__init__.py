"""Backtests: run rebalancing strategies through the real planner on price history, after costs and taxes.

Layout: `data` (prices in), `strategies` (when to look, which band applies), `schedule` (calendar masks),
`kernels` (the float/numpy boundary: daily valuation and band checks), `costs` (the paper broker's fill
model), `engine` (the loop: Decimal books, the planner on trade days), `metrics`, `report` (table, JSON,
charts), `columns` (text tables within 100 columns), `sweep` (grids run in parallel). Needs the `backtest`
extra (numpy, pandas, matplotlib; `parquet` adds pyarrow); nothing here is imported by the rest of reconciler.
Tax lots and yearly tax are `reconciler.core.lots`, shared with live planning.
"""
