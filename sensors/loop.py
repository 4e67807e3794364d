"""The loop sensor: starts the next iteration of the labelling loop when enough new labels exist.

It acts only when the newest iteration says so (``start_after_labels``; ``target_f1`` stops it once
reached): see :mod:`labflow.loop.automation`. Starting means: the newest iteration, if it is being
reviewed, is completed; a new one is created (same settings) and moved to Annotating, its partition
added, and one run of its loop assets requested. State lives in the catalog, so no cursor is needed.
"""

from __future__ import annotations

import dagster as dg

from lab_assets.loop import LOOP_ASSETS
from lab_assets.partitions import iterations_partitions
from labflow.loop.automation import decide
from labflow.loop.iterations import IterationStore
from labflow.ops.run_kinds import BACKGROUND
from labflow.review.store import ReviewStore
from labflow.settings import Settings
from resources import CatalogResource

ACTOR = "loop sensor"
MIN_INTERVAL_S = 60


def build_loop_sensor(settings: Settings) -> dg.SensorDefinition:
    """The loop automation sensor (on by default; it does nothing until an iteration enables it)."""

    @dg.sensor(
        name="loop_sensor",
        target=LOOP_ASSETS,
        minimum_interval_seconds=max(MIN_INTERVAL_S, settings.sensor_interval),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts the next labelling-loop iteration (training set → model → inference → metrics) "
        "when the newest iteration's start_after_labels new runs are confirmed; stops at its target_f1.",
    )
    def loop_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource):
        store = catalog.get_catalog()
        iterations = IterationStore(store)
        decision = decide(iterations, ReviewStore(store))
        if decision.action != "start":
            return dg.SkipReason(decision.reason)
        latest = iterations.latest()
        assert latest is not None
        if latest.state == "Reviewing":
            iterations.transition(latest.number, "Completed", ACTOR, note=decision.reason)
        created = iterations.create(ACTOR, note=decision.reason)
        iterations.transition(created.number, "Annotating", ACTOR, note=decision.reason)
        context.log.info(f"iteration {created.number} started: {decision.reason}")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"loop-{created.key}", partition_key=created.key,
                                        asset_selection=[asset.key for asset in LOOP_ASSETS],
                                        tags={**BACKGROUND, "labflow/iteration": str(created.number)})],
            dynamic_partitions_requests=[iterations_partitions.build_add_request([created.key])],
        )

    return loop_sensor
