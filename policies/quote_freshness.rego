# No order may be priced from a quote older than N seconds.
package reconciler.quote_freshness

import rego.v1

deny contains msg if {
	some a in input.actions
	a.quote == null
	msg := sprintf("%s has no quote", [a.symbol])
}

deny contains msg if {
	some a in input.actions
	a.quote.age_seconds > input.params.max_quote_age_seconds
	msg := sprintf("%s quote is %.0fs old (limit %ds)", [a.symbol, a.quote.age_seconds, input.params.max_quote_age_seconds])
}
