"""Wait for a batch's Runway tasks and copy every video to S3, with provenance.

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
    args = parser.parse_args()
    result = asyncio.run(collect_videos(
        output_prefix=args.output_prefix, manifest_uri=args.manifest_uri,
        credentials_block=args.credentials_block))  # fmt: skip
    print(json.dumps(result.model_dump(exclude={"rows"}), indent=1))
