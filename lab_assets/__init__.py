"""labflow's software-defined assets, checks and partitions; ``definitions.defs`` is the code location."""
