"""The docstring examples (``>>>``) of the shared core and the bridge run as written."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest
import torch

import shared


def _modules_with_examples() -> list[str]:
    """Modules of ``shared`` (demos aside) whose own source holds a ``>>>`` example."""
    names = []
    for info in pkgutil.walk_packages(shared.__path__, "shared."):  # shared.bridge included
        if ".demos" in info.name:
            continue
        if ">>>" in Path(importlib.import_module(info.name).__file__).read_text():
            names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()


def test_examples_are_found():
    # a walk that found nothing would make the test below pass vacuously
    assert {"shared.losses.info_nce", "shared.heads", "shared.bridge.long_short"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    torch.manual_seed(0)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             extraglobs={"torch": torch}, verbose=False, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
    assert result.attempted > 0
