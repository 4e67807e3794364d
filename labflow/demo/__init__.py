"""Demo data: realistic instrument files, a past month of history, and what `labflow dev --demo` sends live."""
