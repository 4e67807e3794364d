"""The REST API (FastAPI) for optimisers, devices and the workflow front end — see the API issue.

It will read the latest materializations through the Dagster instance and the catalog; nothing here yet.
"""
