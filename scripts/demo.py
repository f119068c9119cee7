"""``sublstm demo`` under its old name: ``python scripts/demo.py ARGS`` runs ``sublstm demo ARGS``."""

import sys

from sublstm.experiments.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
