"""Shared test fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def float64():
    """Run a test with float64 as torch's default dtype, restoring the previous default afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
