"""``python -m prefect_runway.emulator``, moved to ``python -m prefect_runway.testing.emulator``."""

import sys

from prefect_runway.testing.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
