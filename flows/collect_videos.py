"""Copy a batch's finished Runway videos to S3, incrementally, with provenance.

The flow lives in the package (``prefect_runway.flows.collect_videos``), so
``pip install prefect-runway`` is enough to deploy it; this file is the entry point to run
or copy.
"""

import asyncio
import json

from prefect_runway.flows.collect_videos import *  # noqa: F403
from prefect_runway.flows.collect_videos import collect_videos

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("output_prefix", help="s3://bucket/prefix/ for the videos")
    parser.add_argument("manifest_uri", help="s3://bucket/.../runway-manifest.json")
    parser.add_argument("--credentials-block")
    parser.add_argument("--wait-seconds", type=float, default=0.0,
                        help="wait up to this long for unfinished tasks (default: 0, poll once)")
    args = parser.parse_args()
    result = asyncio.run(collect_videos(
        output_prefix=args.output_prefix, manifest_uri=args.manifest_uri,
        credentials_block=args.credentials_block, wait_seconds=args.wait_seconds))  # fmt: skip
    print(json.dumps(result.model_dump(exclude={"rows"}), indent=1))
