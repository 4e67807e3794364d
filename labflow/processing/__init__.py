"""Processing: instrument readers, series (axis + channels), smoothing, peaks, quality, recipes."""
