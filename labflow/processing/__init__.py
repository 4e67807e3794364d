"""Processing: instrument readers, series (axis + channels), clean series, peaks, quality and objective, by a recipe."""
