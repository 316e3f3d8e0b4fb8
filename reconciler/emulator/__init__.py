"""A broker emulator: a real HTTP server on 127.0.0.1 speaking the subset of Alpaca's Trading API v2 (and the
market-data snapshots endpoint) that the Alpaca adapter uses, with fault knobs for testing everything that
goes wrong with real brokers. It is not a `Broker`: the Alpaca adapter (`reconciler/brokers/alpaca.py`) talks
to it over HTTP, as to Alpaca. Only the CLI (`reconciler emulator`) and the tests import it.

Normal behaviour, as Alpaca documents it: a new order is answered `pending_new` with `filled_qty` "0"
(`accepted` while the market is closed, and it waits for the open); market and day limit orders fill at the
current price (a limit order only at or better than its limit, which must be in whole cents at $1 and above),
by quantity or by `notional` (fractionable assets only), in `fill_steps` partial fills one per `fill_interval`
seconds; DELETE answers 204 and the order is `pending_cancel` for `cancel_delay` seconds, filling meanwhile,
then `canceled`; `cash` includes unsettled sale proceeds, which settle T+`settlement_days` sessions later;
buying power is 2×
(margin) above $2,000 of equity; a duplicate client_order_id is refused with 422 and code 40010001, Alpaca's
generic validation code, which every invalid order carries too (more than 9 decimals, a client_order_id over
128 characters, extended_hours on a market order, a fractional order under $1; an unknown symbol is a 422 of
its own); an order opposite to an open one in the same symbol is the wash-trade 403. On a calendar, an order
placed while closed waits for its session and what is unfilled at the close is canceled. Regulatory fees (TAF,
REG, CAT) accrue per execution, are deducted from `cash` (`accrued_fees`) and post as FEE activities at the
close (`fees.py`). The data API takes `feed` iex, sip (403 without `sip_subscription`) or delayed_sip. Every
answer parses into the official SDK's models (tests/emulator/test_alpaca_contract.py). Alpaca's trade_updates
websocket is served on a port of its own (`stream.py`, `EmulatorServer.stream_url`), judged by the SDK's
TradingStream (tests/emulator/test_stream_contract.py).

Fault knobs: see `faults.py`. Control endpoints (tests and demos): POST /_emulator/faults {knob: value}, POST
/_emulator/activity {account, activity_type, net_amount, status, description, no_cash, symbol, qty,
per_share_amount} (a deposit, a dividend and its withholding, a fee, a cancelled deposit: cash moves when
executed unless no_cash), POST /_emulator/prices {SYM: {price, previous_close, volume}}, POST
/_emulator/advance {days}, POST /_emulator/trade {account (name or key id), symbol, side, qty} (a trade the
reconciler did not make), GET /_emulator/state (every order ever received, request counts), GET
/_emulator/health.

Modules: `accounts` (the records: accounts, orders), `state` (the books and rules: settlement, buying power,
the session, under one lock), `fills` (what one fill books), `orders` (what Alpaca refuses in an order's
request), `views` (the account and positions as the API answers them), `fees` (regulatory fees), `market`
(sessions, the clock and calendar, assets, snapshots), `faults` (the knobs and the per-request gates),
`routing` (the dispatch tables), `server` (the HTTP handler and the API's table), `control` (the
/_emulator/ endpoints), `stream` (the trade_updates websocket).
"""

from reconciler.emulator.accounts import EmuAccount, EmuOrder
from reconciler.emulator.faults import Faults
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.state import Emulator

__all__ = ["EmuAccount", "EmuOrder", "Emulator", "EmulatorServer", "Faults"]
