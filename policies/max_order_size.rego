# No single order may exceed a fraction of the account's equity (default 50%).
package reconciler.max_order_size

import rego.v1

# A message object: its {names} are filled from the values, formatted as the plan writes money and percentages.
deny contains msg if {
	some a in input.actions
	a.notional > input.params.max_order_fraction * input.equity
	msg := {
		"msg": sprintf("%s %s of {notional} is above {limit} of equity ({equity})", [a.side, a.symbol]),
		"money": {"notional": a.notional, "equity": input.equity},
		"percent": {"limit": input.params.max_order_fraction},
	}
}
