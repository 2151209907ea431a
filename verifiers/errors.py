"""Errors that the command line reports as one line with exit status 2."""


class UsageError(ValueError):
    """A user mistake: bad parameter, unknown id, unwritable path. Printed without traceback."""
