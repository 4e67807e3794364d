"""Expected errors inside an asset (bad input, a missing upstream output) as a Dagster failure with their message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg


@contextmanager
def failure_on(*expected: type[Exception]) -> Iterator[None]:
    """Turn the ``expected`` errors raised inside the block into :class:`dagster.Failure`: the run fails with
    the error's message (what is wrong and what to do) as its reason, without a traceback."""
    try:
        yield
    except expected as error:
        raise dg.Failure(description=str(error)) from None
