"""Credentials from the environment or a secret store, resolved at the edge and never printed."""
