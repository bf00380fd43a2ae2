"""Multiple-choice QA: the canonical record, taxonomy, synthesis and checks."""
