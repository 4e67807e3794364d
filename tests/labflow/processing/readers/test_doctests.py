"""Every reader module's docstring example runs (River-style: the example is the first test)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import labflow.processing.readers as readers_package
from labflow.processing import series

MODULES = [series] + [importlib.import_module(f"labflow.processing.readers.{m.name}")
                      for m in pkgutil.iter_modules(readers_package.__path__)]


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_docstring_examples_run(module) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_every_builtin_reader_has_an_example() -> None:
    from labflow.processing.readers.families import BUILTIN

    for reader in BUILTIN:
        module = importlib.import_module(reader.__module__)
        assert ">>>" in (module.__doc__ or ""), f"{module.__name__} has no runnable example"
