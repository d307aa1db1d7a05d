"""Shared test settings: hypothesis profiles.

`ci` (selected automatically when the CI environment variable is set) is derandomized, so CI runs
the same examples every time, and keeps example counts small enough for a 2-core machine.
`dev` explores more examples; choose it with HYPOTHESIS_PROFILE=dev.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
