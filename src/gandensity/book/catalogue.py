"""The papers' experimental claims that no chapter runs yet, each with the reason (``not run``).

Together with the claims the chapters compute, these make the scorecard cover every experiment section of
the four papers (see :mod:`gandensity.book.scorecard`). A claim moves from here into a chapter when a
chapter runs it.
"""

from __future__ import annotations

from gandensity.book.claims import Claim

__all__ = ["NOT_RUN"]

NOT_RUN: tuple[Claim, ...] = ()
