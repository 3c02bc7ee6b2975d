"""``python -m aeot``: the ``aeot`` command."""

import sys

from aeot.cli import main

sys.exit(main())
