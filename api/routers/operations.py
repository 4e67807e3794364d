"""Operations: statistics with period comparison and exports, alerts, recipe templates, settings."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api import cursors
from api.auth import admin_key, read_key, write_key
from labflow.caching import LruCache
from api.deps import API_PREFIX, LabDep
from api.errors import ApiProblem, problems
from api.models import Identifier, UtcDateTime
from api.ops_models import (AcknowledgeIn, AlertOut, AlertState, ChartName, RecipeFormat, RecipeImportIn,
                            RecipeOut, RecipeVersionOut, Severity, SettingOut, SettingsPatch, StatsOut)
from labflow.ops.alerts import Alert, AlertNotFound, AlertStore
from labflow.ops.charts import chart_png, table_csv
from labflow.ops.periods import Bucket, parse_period
from labflow.processing.recipe_store import RecipeStore
from labflow.processing.recipes import RecipeError
from labflow.runtime_config import RuntimeConfigError, effective_settings, update_runtime_config
from labflow.ops.stats import StatsFilters, compute_stats

router = APIRouter(prefix=API_PREFIX, tags=["operations"], responses=problems(400, 401, 403, 422))
READ = [Depends(read_key)]
_CHARTS = LruCache(64, max_weight=16 * 1024 * 1024, weigh=len)  # PNG bytes by (chart, digest of the numbers)


def _stats(lab: LabDep, period: str, bucket: Bucket, since: datetime | None, until: datetime | None,
           instrument: str | None, recipe_hash: str | None, campaign: str | None) -> dict:
    try:
        chosen = parse_period(period, since=since, until=until)
    except ValueError as error:
        raise ApiProblem(422, str(error)) from None
    data = lab.gateway.ops_data(lab.catalog, chosen, StatsFilters(instrument, recipe_hash, campaign))
    return compute_stats(data, bucket)


class _StatsQuery:
    def __init__(self, period: Annotated[str, Query(pattern=r"^(today|custom|\d{1,4}d)$",
                                                    description="today, 7d, 30d (any N days) or custom")] = "7d",
                 bucket: Annotated[Bucket, Query()] = "day",
                 since: Annotated[UtcDateTime | None, Query(description="custom period start")] = None,
                 until: Annotated[UtcDateTime | None, Query(description="custom period end")] = None,
                 instrument: Annotated[Identifier | None, Query()] = None,
                 recipe_hash: Annotated[Identifier | None, Query(description="recipe version (content hash)")] = None,
                 campaign: Annotated[Identifier | None, Query()] = None):
        self.args = (period, bucket, since, until, instrument, recipe_hash, campaign)


@router.get("/stats", response_model=StatsOut, dependencies=READ, summary="KPIs with the previous period",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def stats(lab: LabDep, query: Annotated[_StatsQuery, Depends()],
          format: Annotated[str, Query(pattern="^(json|csv)$", description="csv: the per-bucket table")] = "json"
          ) -> Response | dict:
    """Files, failures, checks, ETL time per file, throughput, quality, annotations and backlog."""
    result = _stats(lab, *query.args)
    if format == "csv":
        return Response(table_csv(result["by_bucket"]), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="labflow-stats.csv"'})
    return result


@router.get("/stats/charts/{chart}.png", dependencies=READ, summary="A statistics chart as PNG",
            responses={200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}},
            response_class=Response)
def stats_chart(lab: LabDep, chart: ChartName, query: Annotated[_StatsQuery, Depends()]) -> Response:
    """activity, reviews, runs_by_status or quality, for the same filters as ``/stats``.

    A chart is drawn once per distinct statistics result (the same numbers give the same picture), so
    operators watching the same dashboard do not each pay for drawing it."""
    result = _stats(lab, *query.args)
    digest = hashlib.sha256(json.dumps(result, sort_keys=True, default=str).encode()).hexdigest()
    png = _CHARTS.get((chart, digest), lambda: chart_png(result, chart))
    return Response(png, media_type="image/png")


@router.get("/alerts", response_model=list[AlertOut], dependencies=READ, summary="Alerts")
def list_alerts(lab: LabDep, response: Response, state: AlertState = "all", severity: Severity | None = None,
                kind: Annotated[Identifier | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                cursor: Annotated[str | None, Query(max_length=500,
                                                    description="`X-Next-Cursor` of the previous page.")] = None
                ) -> list[AlertOut]:
    """Most recently seen first; ``state=open`` is what still needs someone. When there are more, the
    ``X-Next-Cursor`` header holds the cursor of the next page."""
    owner = cursors.fingerprint({"state": state, "severity": severity, "kind": kind})
    after = None
    if cursor is not None:
        seen, alert_id = cursors.decode(cursor, owner, 2)
        try:
            after = (datetime.fromisoformat(seen), int(alert_id))
        except (TypeError, ValueError):
            raise ApiProblem(422, "cursor is not valid; pass the X-Next-Cursor of the previous page unchanged"
                             ) from None
    alerts = AlertStore(lab.catalog).list(state=state, severity=severity, kind=kind, limit=limit + 1, after=after)
    if len(alerts) > limit:
        last = alerts[limit - 1]
        response.headers["X-Next-Cursor"] = cursors.encode([last.last_seen.isoformat(), last.id], owner)
    return [_alert_out(a) for a in alerts[:limit]]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, dependencies=[Depends(write_key)],
             summary="Acknowledge an alert", responses=problems(404))
def acknowledge_alert(lab: LabDep, alert_id: Annotated[int, Path(ge=1, le=2**62)], body: AcknowledgeIn) -> AlertOut:
    try:
        return _alert_out(AlertStore(lab.catalog).acknowledge(alert_id, body.by))
    except AlertNotFound as error:
        raise ApiProblem(404, str(error)) from None
    except ValueError as error:
        raise ApiProblem(422, str(error)) from None


@router.get("/recipes", response_model=list[RecipeOut], dependencies=READ, summary="Recipe templates")
def list_recipes(lab: LabDep) -> list[RecipeOut]:
    return [RecipeOut(**vars(info)) for info in _recipes(lab).list()]


@router.get("/recipes/{recipe_id}", dependencies=READ, summary="Export a recipe", response_class=Response,
            responses={200: {"content": {"application/yaml": {"schema": {"type": "string"}},
                                         "application/json": {"schema": {"type": "object"}}}}, **problems(404)})
def export_recipe(lab: LabDep, recipe_id: Identifier, format: RecipeFormat = "yaml") -> Response:
    try:
        text = _recipes(lab).export(recipe_id, format)
    except RecipeError as error:
        raise ApiProblem(404, str(error)) from None
    return Response(text, media_type="application/yaml" if format == "yaml" else "application/json")


@router.post("/recipes", response_model=RecipeOut, status_code=201, dependencies=[Depends(admin_key)],
             summary="Import a recipe (YAML or JSON)")
def import_recipe(lab: LabDep, body: RecipeImportIn) -> RecipeOut:
    """Validates every field; a bad recipe is refused naming each problem and nothing is changed."""
    store = _recipes(lab)
    try:
        recipe = store.import_text(body.text, body.format)
    except RecipeError as error:
        raise ApiProblem(422, str(error)) from None
    return next(RecipeOut(**vars(info)) for info in store.list() if info.id == recipe.id)


@router.get("/recipes/{recipe_id}/versions", response_model=list[RecipeVersionOut], dependencies=READ,
            summary="Versions of a recipe", responses=problems(404))
def recipe_versions(lab: LabDep, recipe_id: Identifier) -> list[RecipeVersionOut]:
    versions = _recipes(lab).versions(recipe_id)
    if not versions:
        raise ApiProblem(404, f"no recipe {recipe_id!r}")
    return [RecipeVersionOut(**vars(v)) for v in versions]


@router.get("/recipes/{recipe_id}/diff", dependencies=READ, summary="Diff two versions of a recipe",
            response_class=Response, responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                                                **problems(404)})
def recipe_diff(lab: LabDep, recipe_id: Identifier, old: Annotated[Identifier, Query(alias="from")],
                new: Annotated[Identifier, Query(alias="to")]) -> Response:
    """A unified diff (empty when the versions are equal)."""
    try:
        return Response(_recipes(lab).diff(recipe_id, old, new), media_type="text/plain")
    except RecipeError as error:
        raise ApiProblem(404, str(error)) from None


@router.get("/settings", response_model=list[SettingOut], dependencies=READ, summary="Effective configuration")
def get_settings(lab: LabDep) -> list[SettingOut]:
    """Every setting with its value and source; ``editable`` ones can be changed with PATCH."""
    return [SettingOut(**row) for row in effective_settings(lab.settings)]


@router.patch("/settings", response_model=list[SettingOut], dependencies=[Depends(admin_key)],
              summary="Change editable settings")
def patch_settings(lab: LabDep, body: SettingsPatch) -> list[SettingOut]:
    known = {info.id for info in _recipes(lab).list()}
    try:
        update_runtime_config(lab.settings, body.changes, known_recipes=known)
    except RuntimeConfigError as error:
        raise ApiProblem(422, str(error)) from None
    return [SettingOut(**row) for row in effective_settings(lab.settings)]


def _recipes(lab: LabDep) -> RecipeStore:
    return RecipeStore(lab.settings.recipes_dir, lab.settings.home)


def _alert_out(alert: Alert) -> AlertOut:
    values = {k: v for k, v in vars(alert).items() if k not in ("fingerprint", "details")}
    return AlertOut(**values, open=alert.open)

