"""Operations: alerts, statistics over periods, charts and the small renderers of what people read."""
