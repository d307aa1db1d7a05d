"""`python -m upt_train`, which is what `torchrun ... -m upt_train` runs."""

import sys

from upt_train.cli import main

sys.exit(main())
