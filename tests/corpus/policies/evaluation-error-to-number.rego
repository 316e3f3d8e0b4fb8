package reconciler.bad_number

import rego.v1

# to_number("x") is an error in OPA; rego-cpp makes it undefined unless strict built-in errors are on.
deny contains msg if {
	limit := to_number("one million")
	input.turnover > limit
	msg := "turnover above limit"
}
