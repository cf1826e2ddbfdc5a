"""Unit tests import the layer straight from its source directory; nothing here touches AWS."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "commerce"))
