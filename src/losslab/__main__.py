"""``python -m losslab``: the ``losslab`` command."""

import sys

from .cli import main

sys.exit(main())
