# Symbols that must never be traded by this repository (restricted lists, sanctions, blackout periods).
package reconciler.deny_list

import rego.v1

deny contains msg if {
	some a in input.actions
	a.symbol in input.params.deny_symbols
	msg := sprintf("%s is on the deny list", [a.symbol])
}
