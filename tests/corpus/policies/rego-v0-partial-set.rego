package reconciler.old_style

# Rego v0: without `import rego.v1` and `contains ... if`, rego-cpp reads this as an object, not a set.
deny[msg] {
	some a in input.actions
	a.notional > 1000000
	msg := "too big"
}
