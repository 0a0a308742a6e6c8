"""`python -m keras_one_cycle_clr`: the `keras-one-cycle-clr` command."""

import sys

from keras_one_cycle_clr.cli import main

if __name__ == "__main__":
    sys.exit(main())
