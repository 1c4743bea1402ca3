"""``python -m anovae``: the command line, as the ``anovae`` executable runs it.

Also what ``torchrun --nproc-per-node N -m anovae fit ...`` starts in each process.
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
