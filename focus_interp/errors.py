"""The one exception type users see: a single line that says what went wrong and what to do."""


class FocusInterpError(ValueError):
    """Bad input or a missing resource, with a one-line message that names the fix."""
