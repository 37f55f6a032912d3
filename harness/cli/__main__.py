"""`python -m harness.cli`: the `racelab` command."""

import sys

from ._main import main

sys.exit(main())
