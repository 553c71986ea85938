"""Fixtures for graphrep tests: raw data from $GRAPHREP_DATA (default
../shared/data relative to the repository root) and a temporary cache."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("GRAPHREP_DATA", REPO.parent / "shared" / "data"))

warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "Planetoid").is_dir():
        pytest.skip(f"raw data not found at {DATA}; set GRAPHREP_DATA")
    return DATA


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("graphrep-cache")


@pytest.fixture(scope="session")
def cora(data_dir, cache_dir):
    from graphrep.data import load_node_dataset

    return load_node_dataset("Cora", "public", data_dir, cache_dir, download=False)


@pytest.fixture(scope="session")
def mutag(data_dir, cache_dir):
    from graphrep.data import load_graph_dataset

    return load_graph_dataset("MUTAG", data_dir, cache_dir, download=False)
