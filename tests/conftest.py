"""Suite-wide settings.

Under CI (``CI`` set in the environment) Hypothesis runs derandomized, so a landing is judged on
the same examples every time; locally it explores with fresh random examples on each run.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
