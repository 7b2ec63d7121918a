"""Model rollouts: what is asked (spec), what was measured (window), what to do next (policy)."""
