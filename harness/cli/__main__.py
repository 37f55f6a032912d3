"""`python -m harness.cli`: the `racelab` command."""

import sys

from harness.cli import main

sys.exit(main())
