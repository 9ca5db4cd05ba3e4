"""S3 as a source and a destination: listing and reading objects, and the batch manifest."""
