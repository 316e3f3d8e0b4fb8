"""One module per schema revision, applied in order, so every journal reaches the same schema."""
