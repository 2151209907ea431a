"""pytest plugin: `pytest --claims quick|full` collects one item per claim (filled in by the framework)."""
