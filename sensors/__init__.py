"""Sensors that turn arriving files into partitions and runs."""
