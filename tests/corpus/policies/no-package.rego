# The package line was deleted.
import rego.v1

deny contains msg if {
	false
	msg := "never"
}
