"""Shared test configuration: pytester runs the scoreclaims pytest plugin in-process."""

pytest_plugins = ["pytester"]
