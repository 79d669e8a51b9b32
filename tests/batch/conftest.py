"""The batch tier's tests run against the stateful Batch API server of ``contracts/``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2] / "contracts"))
