"""Back-pressure: a full queue rejects whole batches with a retry hint; nothing accepted is lost."""

from labflow.streams.intake import Intake
from tests.labflow.streams.conftest import as_events, noise


def test_a_full_queue_rejects_and_counts_and_accepts_again_once_drained():
    intake = Intake()
    first = intake.offer("probe", as_events(noise(60)), capacity=100)
    assert first.accepted and first.queued == 60
    refused = intake.offer("probe", as_events(noise(60), start=60), capacity=100)
    assert not refused.accepted and refused.retry_after_s >= 1
    counters = intake.counters()["probe"]
    assert (counters.accepted, counters.rejected, counters.queued) == (60, 60, 60)

    source, batch = intake.take(timeout=1)
    assert source == "probe" and len(batch) == 60
    intake.done(source, len(batch), 0.01)
    assert intake.offer("probe", as_events(noise(60), start=60), capacity=100).accepted
    counters = intake.counters()["probe"]
    assert (counters.accepted, counters.rejected, counters.processed) == (120, 60, 60)


def test_take_times_out_when_nothing_is_queued():
    assert Intake().take(timeout=0.05) is None
