"""labflow core: the lab's domain logic (parsing, smoothing, peaks, quality, catalog, recipes).

Nothing in this package imports Dagster, FastAPI or Gradio; the asset graph, the API and the app
call these plain functions.
"""

__version__ = "0.1.0"
