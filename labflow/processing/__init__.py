"""Processing: instrument files to clean series, peaks, quality and objective, by a recipe."""
