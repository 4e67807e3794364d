-- The catalog gets its own database beside Dagster's (both have a table named `runs`).
CREATE DATABASE labflow;
