package reconciler.unclosed_brace

import rego.v1

deny contains msg if {
	some a in input.actions
	a.notional > 1000000
	msg := sprintf("%s is too large", [a.symbol])
