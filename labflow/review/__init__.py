"""Review: what people say about a run (annotations), the review store, the review session, the confirmed dataset."""
