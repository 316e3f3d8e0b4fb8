"""Git awareness: which commit the targets came from."""
