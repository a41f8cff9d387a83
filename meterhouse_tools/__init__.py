"""Tools around Meterhouse, outside the Dagster code location: the demo data generator
(`meterhouse demo`) and the benchmarks (`meterhouse bench`, `--usage`, `--api`). The code
location never imports them; they drive it from outside, as a user would."""
