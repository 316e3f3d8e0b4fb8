package reconciler.old_boolean

import rego.v1

too_big {
	input.turnover > 2
}

deny contains "turnover above 200%" if too_big
