"""Policy-as-code: Rego files evaluated in-process with regopy, enforcement levels kept outside the rules."""
