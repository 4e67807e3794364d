"""The REST API (FastAPI) for optimisers, devices and the workflow front end.

``create_app(settings)`` in :mod:`api.app`; one router per resource in :mod:`api.routers`. It reads the
latest materializations through the Dagster instance and the catalog, and never recomputes silently.
"""
