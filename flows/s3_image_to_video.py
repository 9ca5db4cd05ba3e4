"""Animate every image under an S3 prefix: one cached Runway submission per image.

The flow lives in the package (``prefect_runway.flows.s3_image_to_video``), so an installed
prefect-runway is enough to deploy it; this file is the entry point to run or copy. Same as
``python -m prefect_runway.flows.s3_image_to_video --help``.
"""

import sys

from prefect_runway.flows.s3_image_to_video import main, s3_image_to_video

__all__ = ["s3_image_to_video"]

if __name__ == "__main__":
    sys.exit(main())
