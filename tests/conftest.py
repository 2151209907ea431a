"""Shared test configuration: pytester runs the scoreclaims pytest plugin in-process; hypothesis
runs derandomised (reproducible in CI) with no per-example deadline."""

import sys
from pathlib import Path

from hypothesis import settings

pytest_plugins = ["pytester"]

settings.register_profile("scoreclaims", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("scoreclaims")
sys.path.insert(0, str(Path(__file__).parent))  # tests/reference.py
