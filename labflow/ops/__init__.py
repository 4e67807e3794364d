"""Operations: alerts, statistics over periods, charts, the small renderers of what people read, and the
pipeline's metrics (:mod:`labflow.ops.metrics`)."""
