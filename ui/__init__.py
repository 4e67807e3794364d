"""The labelling app (Gradio): find runs, look at them, correct and confirm them; the confirmed dataset.

``ui.app`` builds the app; plain logic (no Gradio) lives in ``run_list``, ``charts``, ``run_data``,
``review_logic``, ``materialize``, ``downloads`` and ``dataset``; ``runs_tab``, ``run_view`` and
``dataset_tab`` lay out and wire the Gradio components.
"""
