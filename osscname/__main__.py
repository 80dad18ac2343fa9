"""``python -m osscname``: the ``osscname`` command, for when the console script is not on PATH."""

import sys

from .cli import main

sys.exit(main())
