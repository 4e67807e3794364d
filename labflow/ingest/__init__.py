"""Ingestion: files and objects arriving (inbox folder, S3 buckets, uploads, store-and-forward) registered as runs."""
