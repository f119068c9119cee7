"""``sublstm train`` under its old name: ``python scripts/train.py ARGS`` runs ``sublstm train ARGS``."""

import sys

from sublstm.experiments.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
