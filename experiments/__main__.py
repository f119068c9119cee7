"""``python -m sublstm.experiments`` runs the ``sublstm`` command."""

import sys

from .cli import main

sys.exit(main())
