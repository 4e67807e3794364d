"""Values of the pipeline's Prometheus metrics, computed from the catalog, folders and journals.

Pure collectors (no Prometheus, Dagster or web framework here): each reads only what is new since
its last reading (an id watermark) or a small, bounded set, so a scrape never scans the catalog.
The API turns them into metric families (:mod:`api.metrics_pipeline`).
"""
