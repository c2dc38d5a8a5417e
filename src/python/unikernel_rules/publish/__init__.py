"""`pants publish` of a `unikernel_image`: the unikernel artifact and the container image to OCI registries."""
