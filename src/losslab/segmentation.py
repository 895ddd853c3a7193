"""segmentation losses (being written; see the issue for this family)."""

from __future__ import annotations

__all__: list[str] = []
