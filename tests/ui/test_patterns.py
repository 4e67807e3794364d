"""The Patterns tab's logic: recent events and patterns of a source, the chart, the table, feedback."""

from matplotlib.figure import Figure

from tests.ui.conftest import spooled_stream_lab
from ui.patterns import PatternsData, describe, pattern_rows, source_fields, stream_figure


def test_the_tab_shows_recent_events_and_patterns_of_a_source(lab_settings, tmp_path):
    settings, engine = spooled_stream_lab(lab_settings, tmp_path, shifted=1500)
    data = PatternsData.open(settings)
    assert data.sources() == ["probe"]
    events = data.recent_events("probe", limit=1000)
    assert events.height == 1000 and events["event_id"][-1] == "3499"
    patterns = data.recent_patterns("probe")
    assert patterns[0]["timestamp"] >= patterns[-1]["timestamp"]
    assert {"anomaly", "drift"} <= {p["type"] for p in patterns}
    rows = pattern_rows(patterns, {})
    assert len(rows) == len(patterns) and rows[0][0] == patterns[0]["pattern_id"]
    drift = next(p for p in patterns if p["type"] == "drift")
    assert "→" in describe(drift) and "sd" in describe(drift)
    figure = stream_figure("probe", data.recent_events("probe"), patterns, source_fields(data, "probe"))
    assert isinstance(figure, Figure) and figure.axes[0].get_ylabel() == "value"
    assert len(figure.axes[0].lines) > 1, "pattern markers are drawn over the line"


def test_feedback_from_the_tab_is_recorded_and_tightens_the_detector(lab_settings, tmp_path):
    settings, engine = spooled_stream_lab(lab_settings, tmp_path, shifted=1500)
    data = PatternsData.open(settings)
    anomaly = next(p for p in data.recent_patterns("probe") if p["type"] == "anomaly")
    before = engine.thresholds("probe").anomaly_quantile
    message = data.give_feedback(anomaly["pattern_id"], "false_positive", "door opened", "ana")
    assert "stricter" in message
    assert data.verdicts("probe") == {anomaly["pattern_id"]: "false_positive"}
    assert pattern_rows([anomaly], data.verdicts("probe"))[0][-1] == "false positive"
    assert engine.thresholds("probe").anomaly_quantile > before, "the running engine picks the feedback up"
    assert data.give_feedback("", "true_positive") == "Choose a pattern in the table first."
    assert "there is no pattern" in data.give_feedback("0123456789abcdef", "true_positive")
