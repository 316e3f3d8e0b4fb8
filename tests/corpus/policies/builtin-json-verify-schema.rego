package reconciler.schema_check

import rego.v1

deny contains msg if {
	[ok, _] := json.verify_schema({"type": "object"})
	not ok
	msg := "bad schema"
}
