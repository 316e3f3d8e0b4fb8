package reconciler.debugging

import rego.v1

deny contains msg if {
	some a in input.actions
	print("checking", a.symbol)
	a.notional > 1000000
	msg := "too big"
}
