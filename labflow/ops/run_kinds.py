"""Kinds of runs and their place in the run queue, so arriving files never wait behind background work.

Every run carries ``labflow/kind`` and Dagster's ``dagster/priority`` (higher is dequeued first).
``dagster.yaml`` limits ``background`` runs to one of the two run slots (``concurrency.runs.
tag_concurrency_limits``), so a burst of stream hours or a training job always leaves a slot for files.

==========  ========  ============================================================================
kind        priority  runs
==========  ========  ============================================================================
files       10        ETL of arriving files (inbox, S3, uploads)
review      5         a confirmed annotation's ``annotations`` run
background  -10       stream hours, daily summaries, feedback; forecast training; active-learning loop
==========  ========  ============================================================================
"""

from __future__ import annotations

KIND_TAG = "labflow/kind"
PRIORITY_TAG = "dagster/priority"

FILES = {KIND_TAG: "files", PRIORITY_TAG: "10"}
REVIEW = {KIND_TAG: "review", PRIORITY_TAG: "5"}
BACKGROUND = {KIND_TAG: "background", PRIORITY_TAG: "-10"}

# What happened to a batch of files ("19 processed, 1 quarantined (b.csv: …)"), set by the ETL run.
OUTCOME_TAG = "labflow/outcome"
