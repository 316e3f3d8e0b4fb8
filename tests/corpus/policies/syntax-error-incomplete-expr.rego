package reconciler.incomplete_expr

import rego.v1

deny contains msg if {
	some a in input.actions
	a.notional > 
	msg := "missing right-hand side above"
}
