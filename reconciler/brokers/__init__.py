"""Brokers: one protocol, sibling adapters chosen by configuration."""
