"""Shared test setup: deterministic, single-threaded torch (the suite runs in parallel processes)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

torch.set_num_threads(1)

ORACLES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "oracles")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def oracle_path(name: str) -> str:
    """Path of a file in ../shared/oracles (the reference values); tests that need it skip when absent."""
    path = os.path.normpath(os.path.join(ORACLES, name))
    if not os.path.exists(path):
        pytest.skip(f"oracle file {path} not present")
    return path
