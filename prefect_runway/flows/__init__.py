"""The reusable flows: import and deploy them from the installed package.

Example:
    ```python
    from prefect_runway.flows.s3_image_to_video import s3_image_to_video

    s3_image_to_video.serve(name="nightly", cron="0 2 * * *", parameters={"bucket": "stills"})
    ```
"""
