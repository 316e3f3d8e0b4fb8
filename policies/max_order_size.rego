# No single order may exceed a fraction of the account's equity (default 50%).
package reconciler.max_order_size

import rego.v1

deny contains msg if {
	some a in input.actions
	a.notional > input.params.max_order_fraction * input.equity
	msg := sprintf("%s %s of %.2f is above %.0f%% of equity (%.2f)", [a.side, a.symbol, a.notional, input.params.max_order_fraction * 100, input.equity])
}
