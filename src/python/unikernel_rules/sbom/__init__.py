"""The SBOM of an image: an SPDX 2.3 document of every file and where it came from."""
