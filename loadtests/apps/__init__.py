"""Sample apps the benchmarks and tests run as pods or as plain local processes."""
