"""The functional core: planner, plan model, hashing. No I/O is imported here."""
