"""The shared tiny benchmark that read-only tests use: it finished, and reads back."""

from __future__ import annotations

import pytest
from conftest import TinyStore

pytestmark = pytest.mark.slow


def test_the_shared_tiny_benchmark_reads_back(tiny: TinyStore) -> None:
    from suite.compare import leaderboard

    board = leaderboard(tiny.name, tiny.tracking_uri)
    assert sorted(board["candidate"]) == ["cnn", "mlp"]
    assert (board["seeds"] == 3).all()
