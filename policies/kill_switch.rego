# Kill switch: never buy into a flash crash or on a zero price; never sell at a zero price.
package reconciler.kill_switch

import rego.v1

deny contains msg if {
	some a in input.actions
	a.price <= 0
	msg := sprintf("%s price is %v: refusing to trade on a zero price", [a.symbol, a.price])
}

deny contains msg if {
	some a in input.actions
	a.side == "buy"
	is_number(a.quote.previous_close) # a price history without closes sends null: compare numbers only
	a.quote.previous_close > 0
	drop := 1 - (a.price / a.quote.previous_close)
	drop > input.params.kill_switch_drop
	msg := sprintf("%s fell %.1f%% since the previous close (limit %.1f%%): not buying", [a.symbol, drop * 100, input.params.kill_switch_drop * 100])
}
