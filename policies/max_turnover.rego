# Gross traded notional per apply, as a fraction of equity, stays under a bound.
package reconciler.max_turnover

import rego.v1

deny contains msg if {
	input.phase == "plan"
	input.turnover > input.params.max_turnover
	msg := sprintf("turnover %.1f%% is above the maximum of %.1f%%", [input.turnover * 100, input.params.max_turnover * 100])
}

warn contains msg if {
	input.phase == "plan"
	input.turnover > input.params.max_turnover / 2
	input.turnover <= input.params.max_turnover
	msg := sprintf("turnover %.1f%% is above half the maximum", [input.turnover * 100])
}
