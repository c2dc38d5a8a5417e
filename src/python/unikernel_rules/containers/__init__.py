"""The `container` format: an image's root tree as an OCI / docker-archive image, and running it in a Docker engine."""
