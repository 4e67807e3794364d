"""The confirmed dataset (Gradio): the newest version's rows, its digest, and CSV/Parquet downloads."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ui.context import AppContext
from ui.dataset import dataset_table, latest_dataset
from ui.downloads import dataset_files

REFRESH_S = 5.0
EMPTY = "No confirmed dataset yet: it appears here a few seconds after the first run is confirmed."


def build_dataset_tab(ctx: AppContext, app: gr.Blocks) -> None:
    """The tab's components; filled when the page loads, then refreshed every few seconds."""
    shown = gr.State("")
    summary = gr.Markdown(EMPTY, elem_id="dataset-summary")
    table = gr.Dataframe(interactive=False, wrap=True, max_height=520, label="Confirmed runs", elem_id="dataset")
    with gr.Row():
        refresh = gr.Button("Refresh now", size="sm")
        prepare = gr.Button("Prepare downloads (CSV and Parquet)", size="sm", elem_id="dataset-download")
    files = gr.File(file_count="multiple", label="Confirmed dataset", interactive=False)
    timer = gr.Timer(REFRESH_S)

    def load(current: str, force: bool = False) -> list[Any]:
        version = latest_dataset(ctx.gateway, ctx.outputs)
        digest = version.digest if version else ""
        if digest == current and not force:
            return [gr.skip()] * 3
        return [digest, version.summary if version else EMPTY, dataset_table(version)]

    def download() -> Any:
        version = latest_dataset(ctx.gateway, ctx.outputs)
        if version is None:
            gr.Warning(EMPTY)
            return gr.skip()
        return dataset_files(version.frame, version.digest, ctx.downloads_dir)

    app.load(lambda current: load(current, force=True), [shown], [shown, summary, table])
    timer.tick(load, [shown], [shown, summary, table], show_progress="hidden")
    refresh.click(lambda current: load(current, force=True), [shown], [shown, summary, table])
    prepare.click(download, None, [files])
