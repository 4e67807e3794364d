"""Storage: the catalog database, the blob store (local or S3), raw copies and asset outputs."""
