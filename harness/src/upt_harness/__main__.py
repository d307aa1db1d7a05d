import sys

from upt_harness.cli import main

sys.exit(main())
