"""The Models tab (Gradio): forecast models per asset — versions with their backtest, the backtest chart,
training from an uploaded CSV with its progress, activation and rollback. Logic in :mod:`ui.models`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from labflow.forecasting.registry import ModelRegistry
from ui.context import AppContext
from ui.models import (ASSET_COLUMNS, VERSION_COLUMNS, activate, asset_rows, backtest_figure, progress, rollback,
                       start_training, version_choices, version_rows, version_verdict)

POLL_S = 1.0
JOB_TIMEOUT_S = 1800.0


def build_models_tab(ctx: AppContext, author: gr.Textbox | None = None) -> None:
    """The tab's components, inside the caller's ``gr.Tab``; filled on page load. ``author`` is the app's
    name box (recorded with activations); without one the tab has its own."""
    settings, gateway, outputs = ctx.settings, ctx.gateway, ctx.outputs
    registry = ModelRegistry(ctx.catalog)
    with gr.Row(equal_height=True):
        asset = gr.Dropdown(label="Asset", choices=[], interactive=True, allow_custom_value=False, scale=3,
                            elem_id="models-asset")
        if author is None:
            author = gr.Textbox(label="Your name (recorded with activations)", max_lines=1, scale=2)
        refresh = gr.Button("Refresh", size="sm", scale=0)
    assets = gr.Dataframe(headers=ASSET_COLUMNS, interactive=False, label="Assets with forecast models",
                          elem_id="models-assets")
    versions = gr.Dataframe(headers=VERSION_COLUMNS, interactive=False, wrap=True, label="Versions (newest first)",
                            elem_id="models-versions")
    chart = gr.Plot(label="Backtest: actual vs forecast with the interval", elem_id="models-backtest")
    with gr.Row(equal_height=True):
        version = gr.Dropdown(label="Version", choices=[], value=None, scale=1, elem_id="models-version",
                              info="a version from the table (to show its backtest or activate it)")
        show = gr.Button("Show its backtest", scale=0)
        activate_button = gr.Button("Activate", variant="primary", scale=0)
        rollback_button = gr.Button("Roll back", scale=0)
    verdict = gr.Markdown("", elem_id="models-verdict")
    message = gr.Markdown("", elem_id="models-message")
    with gr.Accordion("Train from a CSV (timestamp, value, covariates such as temp or production)", open=False):
        with gr.Row(equal_height=True):
            new_asset = gr.Textbox(label="Asset id", placeholder="e.g. line-3", max_lines=1, scale=2)
            horizon = gr.Number(label="Horizon (steps)", value=24, precision=0, minimum=1, maximum=168, scale=1)
            upload = gr.File(label="History CSV", file_types=[".csv"], type="filepath", scale=3)
            train = gr.Button("Train", variant="primary", scale=0)
        job_status = gr.Markdown("", elem_id="models-training")
        job_bar = gr.Slider(0, 1, value=0, label="Progress", interactive=False)

    def views(name: str | None, number: float | None = None) -> list[Any]:
        numbers, default = version_choices(registry, name)
        chosen = int(number) if number is not None and int(number) in numbers else default
        return [asset_rows(registry), version_rows(registry, name) if name else [],
                backtest_figure(registry, outputs, name, chosen), gr.Dropdown(choices=numbers, value=chosen),
                version_verdict(registry, name, chosen)]

    def reload(current: str | None) -> list[Any]:
        names = [a.asset_id for a in registry.assets()]
        chosen = current if current in names else (names[0] if names else None)
        return [gr.Dropdown(choices=names, value=chosen), *views(chosen)]

    def run_training(name: str, steps: float | None, path: str | None) -> Iterator[list[Any]]:
        try:
            job_id = start_training(settings, gateway, name, path, horizon=int(steps or 24))
        except ValueError as error:
            yield [f"**Not started:** {error}", 0.0]
            return
        link = f"[run in Dagster]({settings.dagster_url}/runs/{job_id})"
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline:
            state = progress(gateway, job_id)
            yield [f"Job `{job_id[:8]}` · {state.text} · {link}", state.fraction]
            if state.finished:
                return
            time.sleep(POLL_S)

    outputs_all = [assets, versions, chart, version, verdict]
    gr.on(triggers=None, fn=lambda: reload(None), inputs=None, outputs=[asset, *outputs_all])
    refresh.click(reload, [asset], [asset, *outputs_all])
    asset.input(views, [asset], outputs_all)
    show.click(views, [asset, version], outputs_all)
    activate_button.click(lambda a, v, who: activate(registry, a, v, who), [asset, version, author], [message]).then(
        views, [asset, version], outputs_all)
    rollback_button.click(lambda a, who: rollback(registry, a, who), [asset, author], [message]).then(
        views, [asset], outputs_all)
    train.click(run_training, [new_asset, horizon, upload], [job_status, job_bar]).then(
        reload, [asset], [asset, *outputs_all])

