"""Recommendations from the optimiser, and campaigns: phase, points, and which were run and confirmed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.auth import read_key, write_key
from api.deps import API_PREFIX, LabDep
from api.errors import ApiProblem, problems
from api.models import BatchIn, BatchOut, CampaignOut, CampaignSummary, Identifier
from labflow.experiments import CampaignStatus, PointStatus, Recommendation, RecommendationBatch

router = APIRouter(prefix=API_PREFIX, tags=["recommendations"], responses=problems(400, 401, 403, 422))


@router.post("/recommendations", response_model=BatchOut, status_code=201, summary="Post a batch",
             dependencies=[Depends(write_key)])
def post_recommendations(body: BatchIn, lab: LabDep) -> BatchOut:
    """Store a batch of recommended points (parameters, mean ± uncertainty, phase, model version)."""
    points = [Recommendation(dict(p.parameters), p.mean, p.uncertainty, p.phase, p.model_version)
              for p in body.points]
    return _batch(lab.experiments.add_recommendations(body.campaign, points))


@router.get("/recommendations", response_model=list[BatchOut], summary="List batches",
            dependencies=[Depends(read_key)])
def list_recommendations(lab: LabDep, campaign: Annotated[Identifier | None, Query()] = None) -> list[BatchOut]:
    """Recommendation batches (of one campaign), oldest first."""
    return [_batch(b) for b in lab.experiments.batches(campaign)]


@router.get("/campaigns", response_model=list[CampaignSummary], tags=["campaigns"], summary="List campaigns",
            dependencies=[Depends(read_key)])
def list_campaigns(lab: LabDep) -> list[CampaignSummary]:
    """Every campaign with experiments or recommendations: phase, model version, progress."""
    return [_summary(lab.experiments.campaign_status(name)) for name in lab.experiments.campaigns()]


@router.get("/campaigns/{campaign}", response_model=CampaignOut, tags=["campaigns"], summary="One campaign",
            dependencies=[Depends(read_key)], responses=problems(404))
def get_campaign(campaign: Annotated[Identifier, Path()], lab: LabDep) -> CampaignOut:
    """The campaign's phase and each recommended point's state: recommended → registered → ran → confirmed."""
    if campaign not in lab.experiments.campaigns():
        raise ApiProblem(404, f"no campaign {campaign!r}: nothing was registered or recommended for it")
    status = lab.experiments.campaign_status(campaign)
    return CampaignOut.model_validate({**_summary(status).model_dump(), "points": [_point(p) for p in status.points]})


def _point(point: PointStatus) -> dict[str, Any]:
    return {**asdict(point.recommendation), "batch_id": point.batch_id, "position": point.position,
            "state": point.state, "experiment_ids": point.experiment_ids, "run_keys": point.run_keys,
            "confirmed_run_keys": point.confirmed_run_keys}


def _summary(status: CampaignStatus) -> CampaignSummary:
    return CampaignSummary.model_validate({
        "campaign": status.campaign, "phase": status.phase, "model_version": status.model_version,
        "experiments": status.experiments, "batches": status.batches, "recommended_points": len(status.points),
        "confirmed_points": sum(p.state == "confirmed" for p in status.points)})


def _batch(batch: RecommendationBatch) -> BatchOut:
    return BatchOut.model_validate({"batch_id": batch.batch_id, "campaign": batch.campaign,
                                    "created_at": batch.created_at, "points": [asdict(p) for p in batch.points]})
