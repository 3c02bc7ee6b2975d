"""``python -m aeot.cli``: the ``aeot`` command (as ``python -m aeot``)."""

import sys

from aeot.cli import main

sys.exit(main())
