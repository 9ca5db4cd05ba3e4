"""The reusable flows: import, run and deploy them from the installed package.

Each module also runs from a shell: ``python -m prefect_runway.flows.s3_image_to_video --help``
(likewise ``collect_videos``, ``drive_batch`` and ``reconcile_spend``). Deployment entrypoints
name the module's file, e.g. ``prefect_runway/flows/s3_image_to_video.py:s3_image_to_video``
from a checkout.

Example:
    ```python
    # not run: serve() runs until stopped
    from prefect_runway.flows import s3_image_to_video

    s3_image_to_video.serve(name="nightly", cron="0 2 * * *", parameters={"bucket": "stills"})
    ```
"""

from prefect_runway.flows.collect_videos import collect_videos
from prefect_runway.flows.drive_batch import drive_batch
from prefect_runway.flows.generate_from_table import generate_from_table
from prefect_runway.flows.pipeline import run_pipeline
from prefect_runway.flows.reconcile_spend import reconcile_spend
from prefect_runway.flows.s3_image_to_video import s3_image_to_video

__all__ = [
    "collect_videos", "drive_batch", "generate_from_table", "reconcile_spend", "run_pipeline",
    "s3_image_to_video",
]
