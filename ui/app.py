"""The labelling app: find runs, look at them, correct and confirm them; the confirmed dataset.

``labflow ui`` (and ``labflow dev``) call :func:`serve`; tests build the app with :func:`build_app` and
launch it themselves with :func:`launch_options`. Everything the page needs is served by the app
itself (system fonts, Gradio's bundled assets): it works without internet access.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402  (after switching analytics off)

from labflow.settings import Settings  # noqa: E402
from lab_assets.gateway import DagsterGateway  # noqa: E402
from ui.campaign_tab import build_campaign_tab  # noqa: E402
from ui.context import AppContext  # noqa: E402
from ui.dataset_tab import build_dataset_tab  # noqa: E402
from ui.loop_tab import build_loop_tab  # noqa: E402
from ui.models_tab import build_models_tab  # noqa: E402
from ui.operations_tab import CSS as OPERATIONS_CSS  # noqa: E402
from ui.operations_tab import build_operations_tab  # noqa: E402
from ui.patterns_tab import build_patterns_tab  # noqa: E402
from ui.run_view import build_run_view  # noqa: E402
from ui.runs_tab import build_run_list  # noqa: E402
from ui.settings_tab import build_settings_tab  # noqa: E402

AUTHOR_KEY = "labflow-author"

THEME = gr.themes.Default(
    primary_hue="blue", neutral_hue="slate", radius_size="sm", spacing_size="sm", text_size="sm",
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)
CSS = """
#app-header { align-items: center; }
#app-header h2 { margin: 0; }
#run-title h3 { margin: 0 0 .2em 0; font-family: var(--font-mono); }
#chart-caption, #histogram-caption { color: var(--body-text-color-subdued); font-size: var(--text-sm); }
#review-message { min-height: 1.6em; }
#runs-table [data-col="0"] { font-family: var(--font-mono); }
#runs-table [role=columnheader], #runs-table [role=columnheader] *, #runs-table [role=gridcell] * {
  white-space: nowrap; word-break: normal; overflow: hidden; text-overflow: ellipsis; }
.tool-row { align-items: flex-end; }
.tool-row > button { flex-grow: 0; align-self: flex-end; margin-bottom: var(--spacing-md); }
"""


def build_app(settings: Settings, *, gateway: DagsterGateway | None = None) -> gr.Blocks:
    """The whole app: runs (list beside the run view), the confirmed dataset, then any extra tabs."""
    ctx = AppContext.create(settings, gateway)
    with gr.Blocks(title="labflow · review runs", fill_width=True, analytics_enabled=False) as app:
        with gr.Row(equal_height=True, elem_id="app-header"):
            gr.Markdown("## labflow · review runs\nLook at a run, correct it, confirm it. Edits stay your draft "
                        "until you confirm; every action is recorded.", elem_id="app-title")
            author = gr.Textbox(label="Your name", placeholder="recorded with every change", max_lines=1,
                                elem_id="author", scale=0, min_width=260)
        remembered = gr.BrowserState("", storage_key=AUTHOR_KEY)
        with gr.Tabs():
            with gr.Tab("Runs", id="runs"):
                with gr.Row():
                    with gr.Column(scale=4, min_width=420):
                        run_list = build_run_list(ctx)
                    with gr.Column(scale=7, min_width=640):
                        build_run_view(ctx, author, run_list)
            with gr.Tab("Confirmed dataset", id="dataset"):
                build_dataset_tab(ctx, app)
            with gr.Tab("Operations", id="operations"):
                build_operations_tab(ctx, author, app)
            with gr.Tab("Recipes & settings", id="settings"):
                build_settings_tab(ctx, app)
            with gr.Tab("Campaign", id="campaign"):
                build_campaign_tab(ctx)
            with gr.Tab("Loop", id="loop"):
                build_loop_tab(ctx, author)
            with gr.Tab("Models", id="models"):
                build_models_tab(ctx, author)
            with gr.Tab("Patterns", id="patterns"):
                build_patterns_tab(ctx, author)
        app.load(lambda saved: saved or gr.skip(), [remembered], [author])
        author.change(lambda name: (name or "").strip(), [author], [remembered])
        app.load(run_list.refresh, run_list.inputs, run_list.outputs)
    return app


# Cells cut short by the CSS above show their whole text on hover (Gradio's table sets no title).
HEAD = """<script>
(() => {
  let queued = false;
  const titles = () => {
    queued = false;
    document.querySelectorAll('#runs-table [role=gridcell]').forEach(cell => {
      const text = cell.innerText.trim();
      if (cell.title !== text) cell.title = text;
    });
  };
  new MutationObserver(() => { if (!queued) { queued = true; requestAnimationFrame(titles); } })
    .observe(document.documentElement, {subtree: true, childList: true, characterData: true});
})();
</script>"""


def launch_options() -> dict[str, Any]:
    """Theme, style and head for ``Blocks.launch`` (Gradio 6 takes them there, not in ``Blocks``)."""
    return {"theme": THEME, "css": CSS + OPERATIONS_CSS, "head": HEAD}


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the app until interrupted."""
    build_app(settings).launch(server_name=host, server_port=port, show_error=True, **launch_options())
