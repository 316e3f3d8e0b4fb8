package reconciler.heavy

import rego.v1

# Nine million pairs: far past any sane time budget for a check that runs before every order.
deny contains msg if {
	some i in numbers.range(1, 3000)
	some j in numbers.range(1, 3000)
	i * j < 0
	msg := "never"
}
