"""`python -m upt_data`, the same as the `upt-data` command."""

import sys

from upt_data.cli import main

sys.exit(main())
