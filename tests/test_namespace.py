"""The curated ``focus_interp`` namespace: every name it lists is there, and each comes from the room that holds it."""

from __future__ import annotations

import focus_interp


def test_every_listed_name_exists_and_is_documented():
    missing = [name for name in focus_interp.__all__ if not hasattr(focus_interp, name)]
    assert not missing
    for name in focus_interp.__all__:
        value = getattr(focus_interp, name)
        if callable(value):
            assert value.__module__.startswith("focus_interp.") and value.__doc__, name
