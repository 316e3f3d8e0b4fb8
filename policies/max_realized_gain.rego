# A portfolio's realised gains this calendar year, with this plan's sells, stay within its tax budget
# (tax.max_realized_gain). The planner trims sells to it, but never past a band's hard limit (tax.hard_band):
# when that is not enough, this policy stops the plan for a person to decide.
package reconciler.max_realized_gain

import rego.v1

deny contains msg if {
	input.phase == "plan"
	input.tax.max_realized_gain != null
	input.tax.year_realized_gain != null
	input.tax.year_realized_gain > input.tax.max_realized_gain
	msg := sprintf("realised gains this year would reach %.2f, above the budget of %.2f (tax.max_realized_gain)", [input.tax.year_realized_gain, input.tax.max_realized_gain])
}
