"""Copy a batch's finished Runway videos to S3, incrementally, with provenance.

The flow lives in the package (``prefect_runway.flows.collect_videos``), so an installed
prefect-runway is enough to deploy it; this file is the entry point to run or copy. Same as
``python -m prefect_runway.flows.collect_videos --help``.
"""

import sys

from prefect_runway.flows.collect_videos import collect_videos, main

__all__ = ["collect_videos"]

if __name__ == "__main__":
    sys.exit(main())
