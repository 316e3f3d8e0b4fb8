"""YAML → validated models, with file/line positions for every error."""
