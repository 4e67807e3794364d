"""The labelling app (Gradio) — see the labelling-app issue. Nothing here yet."""
