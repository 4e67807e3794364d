"""Signal processing: smoothing, peaks, QRS detection, spectral baselines and quality."""
