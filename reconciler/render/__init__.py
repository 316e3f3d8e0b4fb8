"""Renderers of a plan: Terraform-like text, JSON, and the markdown PR comment."""
