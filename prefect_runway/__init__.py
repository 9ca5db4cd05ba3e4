"""Runway image-to-video for Prefect 3."""
