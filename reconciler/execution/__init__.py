"""The imperative shell around the planner: observing, planning, applying."""
