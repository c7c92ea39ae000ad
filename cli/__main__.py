"""`python -m cli`: the `corpus` command without its installed script."""

import sys

from cli import main

sys.exit(main())
