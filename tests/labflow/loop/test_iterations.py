"""The iteration state machine: every legal and every illegal transition, history, settings."""

from __future__ import annotations

import itertools

import pytest

from labflow.store.catalog import Catalog
from labflow.loop.iterations import (STATES, TRANSITIONS, IllegalTransition, IterationNotFound, IterationStore,
                                     check_transition, iteration_number, partition_key)
from labflow.loop.runner import advance

LEGAL = {("Created", "Annotating"), ("Annotating", "DataReady"), ("DataReady", "Training"), ("Training", "Trained"),
         ("Trained", "Inferring"), ("Inferring", "Reviewing"), ("Reviewing", "Completed"),
         ("Reviewing", "Annotating")}
PAIRS = list(itertools.product(STATES, STATES))


@pytest.fixture
def store(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield IterationStore(catalog)
    catalog.dispose()


def test_the_transition_table_is_the_issue_s():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_pair_of_states(store, current, target):
    iteration = store.create("ana")
    advance_to(store, iteration.number, current)
    if (current, target) in LEGAL:
        moved = store.transition(iteration.number, target, "bo", note="why")
        assert moved.state == target
        assert (moved.history[-1].from_state, moved.history[-1].to_state) == (current, target)
        assert moved.history[-1].actor == "bo" and moved.history[-1].note == "why"
        return
    with pytest.raises(IllegalTransition) as refused:
        store.transition(iteration.number, target, "bo")
    message = str(refused.value)
    assert f"from {current} to {target}" in message
    if TRANSITIONS[current]:
        assert all(state in message for state in TRANSITIONS[current])
    else:
        assert "final" in message
    assert store.get(iteration.number).state == current


def advance_to(store: IterationStore, number: int, state: str) -> None:
    advance(store, number, state, "setup")
    assert store.get(number).state == state


def test_unknown_state_and_missing_iteration(store):
    with pytest.raises(IllegalTransition, match="unknown state 'Done'"):
        check_transition("Created", "Done")
    with pytest.raises(IterationNotFound, match="no iteration 4"):
        store.transition(4, "Annotating", "ana")
    with pytest.raises(ValueError, match="say who you are"):
        store.create("  ")


def test_reviewing_back_to_annotating_and_round_again(store):
    number = store.create("ana").number
    advance(store, number, "Reviewing", "ana")
    store.transition(number, "Annotating", "ana", note="F1 too low")
    advance(store, number, "Completed", "ana")
    states = [t.to_state for t in store.get(number).history]
    assert states == ["Created", "Annotating", "DataReady", "Training", "Trained", "Inferring", "Reviewing",
                      "Annotating", "DataReady", "Training", "Trained", "Inferring", "Reviewing", "Completed"]


def test_numbers_keys_and_settings_carry_over(store):
    first = store.create("ana", config={"holdout_runs": ["a", "b"], "window": 64})
    second = store.create("bo", config={"threshold": 0.7})
    assert (first.number, second.number) == (1, 2) and second.key == "iteration-2"
    assert second.config["holdout_runs"] == ["a", "b"] and second.config["window"] == 64
    assert second.config["threshold"] == 0.7 and store.previous(2).number == 1
    assert iteration_number(partition_key(12)) == 12
    with pytest.raises(ValueError, match="not an iteration partition key"):
        iteration_number("run-12")
    with pytest.raises(ValueError, match="unknown iteration setting"):
        store.create("ana", config={"colour": "red"})
    with pytest.raises(ValueError, match="threshold"):
        store.create("ana", config={"threshold": 2})
    metrics = store.record_metrics(1, {"event_f1": 0.5}).metrics
    assert metrics == {"event_f1": 0.5} and [it.number for it in store.list()] == [1, 2]


@pytest.fixture
def any_store(database_url):
    """An iteration store on SQLite, then on a fresh Postgres database."""
    catalog = Catalog(database_url)
    yield IterationStore(catalog)
    catalog.dispose()


def test_iterations_created_at_once_get_distinct_numbers(any_store):
    import threading

    store = any_store
    numbers: list[int] = []
    threads = [threading.Thread(target=lambda: numbers.append(store.create("ana").number)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == [1, 2, 3, 4]
