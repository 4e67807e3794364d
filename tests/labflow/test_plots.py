import base64
import io

import matplotlib.image as mpimg
import numpy as np
import polars as pl
import pytest

from labflow.processing.downsample import downsample_minmax
from labflow.processing.plots import png_to_markdown, render_run_png, run_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cleaned_frame(n: int) -> pl.DataFrame:
    t = np.arange(n) * 0.001
    raw = np.sin(t) + np.random.default_rng(0).normal(0, 0.1, n)
    clean = np.convolve(raw, np.ones(5) / 5, mode="same")
    return pl.DataFrame({"time_s": t, "ch": raw, "ch_clean": clean})


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    return mpimg.imread(io.BytesIO(png), format="png")


def test_render_gives_an_800_by_300_png():
    frame = cleaned_frame(5_000)
    peaks = pl.DataFrame({"time_s": [1.5, 3.0], "height": [1.0, 0.2]})
    image = decode(render_run_png(frame, "ch", peaks, title="run 1 · ch"))
    assert image.shape[:2] == (300, 800)
    assert image[..., :3].std() > 0


def test_render_without_peaks_cleaned_column_or_with_gaps():
    frame = cleaned_frame(3_000).with_columns(
        pl.when(pl.int_range(pl.len()).is_between(100, 400)).then(None).otherwise(pl.col("ch")).alias("ch"))
    assert decode(render_run_png(frame, "ch", None, title="gaps")).shape[:2] == (300, 800)
    only_raw = frame.drop("ch_clean")
    empty_peaks = pl.DataFrame(schema={"time_s": pl.Float64, "height": pl.Float64})
    assert decode(render_run_png(only_raw, "ch", empty_peaks, title="raw")).shape[:2] == (300, 800)


def test_long_series_render_from_few_points():
    png = render_run_png(cleaned_frame(1_000_000), "ch", None, title="long", max_points=2_000)
    assert decode(png).shape[:2] == (300, 800)


def test_unknown_channel_is_named():
    with pytest.raises(ValueError, match="nope"):
        render_run_png(cleaned_frame(10), "nope", None, title="x")


def test_downsample_keeps_every_extreme_in_time_order():
    rng = np.random.default_rng(1)
    x = np.arange(100_003, dtype=float)
    y = rng.normal(size=x.size)
    y[[17, 50_000, 100_002]] = [40.0, -35.0, 25.0]
    dx, dy = downsample_minmax(x, y, 500)
    assert dx.size <= 1_000
    assert np.all(np.diff(dx) > 0)
    assert {40.0, -35.0, 25.0} <= set(dy.tolist())
    assert dy.max() == y.max() and dy.min() == y.min()
    size = -(-y.size // 500)
    for bucket in (0, 137, -(-y.size // size) - 1):
        chunk = y[bucket * size:(bucket + 1) * size]
        assert chunk.max() in dy and chunk.min() in dy


def test_downsample_skips_nan_and_keeps_empty_buckets_as_breaks():
    y = np.arange(40, dtype=float)
    y[4:8] = np.nan
    y[10] = np.nan
    dx, dy = downsample_minmax(np.arange(40.0), y, 10)
    assert np.isnan(dy[dx == 4]).all() and 4.0 in dx
    assert 8.0 in dx and 11.0 in dx and 10.0 not in dx


def test_short_series_are_returned_unchanged():
    x, y = np.arange(6.0), np.array([1.0, 5.0, 2.0, 0.0, 3.0, 4.0])
    dx, dy = downsample_minmax(x, y, 3)
    np.testing.assert_array_equal(dx, x)
    np.testing.assert_array_equal(dy, y)


def test_png_to_markdown_inlines_the_image():
    png = render_run_png(cleaned_frame(100), "ch", None, title="x")
    markdown = png_to_markdown(png, "run [1] picture")
    assert markdown.startswith("![run (1) picture](data:image/png;base64,")
    assert base64.b64decode(markdown.split(",", 1)[1].rstrip(")")) == png


def orange_pixels(image: np.ndarray) -> int:
    rgb = image[..., :3]
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((red > 0.9) & (green - blue > 0.15) & (red - green > 0.15)).sum())


def test_a_spectrum_baseline_is_drawn_and_peaks_sit_on_it():
    frame = cleaned_frame(5_000)
    baseline = np.full(frame.height, -0.5)
    peaks = pl.DataFrame({"time_s": [1.5], "height": [1.2]})
    plain = decode(render_run_png(frame, "ch", peaks, title="no baseline"))
    drawn = decode(render_run_png(frame, "ch", peaks, title="baseline", baseline=baseline))
    assert orange_pixels(drawn) > 200 and orange_pixels(plain) == 0


def test_a_counting_spectrum_is_drawn_on_a_log_count_axis():
    channel = np.arange(2000.0)
    counts = 5 + 5000 * np.exp(-0.5 * ((channel - 500) / 3) ** 2)
    frame = pl.DataFrame({"time_s": channel, "counts": counts})
    linear = run_figure(frame, "counts", None, title="t").axes[0]
    log = run_figure(frame, "counts", None, title="t", log_y=True).axes[0]
    assert linear.get_yscale() == "linear" and log.get_yscale() == "symlog"
    assert "log scale" in log.get_ylabel() and "log" not in linear.get_ylabel()
    assert decode(render_run_png(frame, "counts", None, title="t", log_y=True)).shape[:2] == (300, 800)
