package reconciler.net_check

import rego.v1

# net.cidr_contains is an OPA built-in that rego-cpp does not implement: it would be undefined, never a denial.
deny contains msg if {
	net.cidr_contains("10.0.0.0/8", input.params.client_ip)
	msg := "internal address"
}
