"""The run list (Gradio): filters, sortable and paged table; choosing a row opens the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from labflow.store.catalog import RUN_SORTS, RUN_STATUSES
from ui.context import AppContext
from ui.run_list import (ANY, FILTER_FIELDS, REVIEW_LABELS, FilterError, Paging, RunFilter, filter_choices,
                         find_page, page_table, parse_filter)

# Fixed widths: a long run name is cut short (whole on hover) instead of pushing the other columns away.
COLUMN_WIDTHS = ["200px", "110px", "90px", "110px", "100px", "135px", "100px", "120px", "70px", "150px"]
FILTER_LABELS = {"instrument": "Instrument", "operator": "Operator", "material": "Material",
                 "experiment_id": "Experiment"}


@dataclass
class RunList:
    """The run list's components another part of the app listens to or refreshes."""

    table: gr.Dataframe
    run_key: gr.Textbox
    open_button: gr.Button
    inputs: list[gr.components.Component]
    outputs: list[gr.components.Component]
    refresh: Callable[..., list[Any]]


def build_run_list(ctx: AppContext) -> RunList:
    """Filters, the table and paging; returns the components the run view wires to."""
    choices = filter_choices(ctx.catalog)
    with gr.Row():
        exact = [gr.Dropdown(choices[name], value=ANY, label=FILTER_LABELS[name], allow_custom_value=True,
                             min_width=120, elem_id=f"filter-{name}") for name in FILTER_FIELDS]
    with gr.Row():
        review = gr.Dropdown([ANY, *REVIEW_LABELS.values()], value=ANY, label="Review", min_width=120,
                             elem_id="filter-review")
        status = gr.Dropdown([ANY, *RUN_STATUSES], value=ANY, label="Processing", min_width=120)
        since = gr.Textbox(label="From (YYYY-MM-DD)", placeholder="2024-03-01", max_lines=1, min_width=120)
        until = gr.Textbox(label="Until (YYYY-MM-DD)", placeholder="2024-03-31", max_lines=1, min_width=120)
    with gr.Row(elem_classes=["tool-row"]):
        sort = gr.Dropdown(list(RUN_SORTS), value="time", label="Sort by", min_width=110)
        descending = gr.Checkbox(True, label="Newest / highest first", min_width=110)
        previous = gr.Button("◀ Previous", size="sm", scale=0, min_width=100, elem_id="runs-previous")
        following = gr.Button("Next ▶", size="sm", scale=0, min_width=90, elem_id="runs-next")
    summary = gr.Markdown(elem_id="runs-summary")
    table = gr.Dataframe(interactive=False, wrap=False, max_height=560, elem_id="runs-table",
                         label="Runs — click a row to open it (hover a name to read it whole)",
                         show_row_numbers=False, column_widths=COLUMN_WIDTHS)
    with gr.Row(elem_classes=["tool-row"]):
        run_key = gr.Textbox(label="Open run by key", placeholder="run_003-3fa9c1d2e4", scale=4, max_lines=1,
                             elem_id="open-run-key")
        open_button = gr.Button("Open", scale=0, min_width=90, elem_id="open-run")
    page = gr.State(1)
    paging = gr.State(None)  # the count and page starts of the current filters, kept while paging

    filters = [*exact, review, status, since, until, sort, descending]

    def show(page_number: int, known: Paging | None, *values: Any) -> list[Any]:
        """Page ``page_number``; ``known`` is ``None`` when the list starts again (filters changed, refresh):
        then the runs are counted and the filter choices read again, not on a page change."""
        try:
            found = find_page(ctx.catalog, _filter(values), page_number, paging=known)
        except FilterError as error:
            gr.Warning(str(error))
            return [gr.skip(), gr.skip(), gr.skip(), f"⚠ {error}", *[gr.skip()] * len(exact)]
        if known is None:
            fresh = filter_choices(ctx.catalog)
            dropdowns = [gr.Dropdown(choices=fresh[name]) for name in FILTER_FIELDS]
        else:
            dropdowns = [gr.skip()] * len(exact)
        return [found.page, found.paging, page_table(found), found.summary, *dropdowns]

    outputs = [page, paging, table, summary, *exact]
    first_page = [widget.input for widget in [*exact, review, status, sort, descending]]
    first_page += [box.submit for box in (since, until)] + [box.blur for box in (since, until)]
    gr.on(first_page, lambda *v: show(1, None, *v), filters, outputs, show_progress="hidden")
    previous.click(lambda p, k, *v: show(p - 1, k, *v), [page, paging, *filters], outputs)
    following.click(lambda p, k, *v: show(p + 1, k, *v), [page, paging, *filters], outputs)
    return RunList(table, run_key, open_button, [page, *filters], outputs, lambda p, *v: show(p, None, *v))


def _filter(values: tuple[Any, ...]) -> RunFilter:
    instrument, operator, material, experiment, review, status, since, until, sort, descending = values
    return parse_filter(instrument=instrument, operator=operator, material=material, experiment_id=experiment,
                        review=review, status=status, since=since, until=until, sort=sort, descending=descending)
