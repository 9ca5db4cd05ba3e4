"""Animate every image under an S3 prefix: one cached Runway submission per image.

The flow lives in the package (``prefect_runway.flows.s3_image_to_video``), so
``pip install prefect-runway`` is enough to deploy it; this file is the entry point to run
or copy.
"""

import asyncio
import json

from prefect_runway.flows.s3_image_to_video import *  # noqa: F403
from prefect_runway.flows.s3_image_to_video import s3_image_to_video

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("bucket")
    parser.add_argument("prefix", nargs="?", default="")
    parser.add_argument("--model", default="gen4_turbo")
    parser.add_argument("--ratio", default="1280:720")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--prompt-text")
    parser.add_argument("--credentials-block")
    parser.add_argument("--budget-credits", type=float)
    args = parser.parse_args()
    outcome = asyncio.run(
        s3_image_to_video(
            args.bucket,
            args.prefix,
            model=args.model,
            ratio=args.ratio,
            duration=args.duration,
            prompt_text=args.prompt_text,
            credentials_block=args.credentials_block,
            budget_credits=args.budget_credits,
        )  # fmt: skip
    )
    print(json.dumps(outcome.model_dump(exclude={"rows"}), indent=1))
