"""Polku's benchmarks: ratios against raw baselines measured in the same run (``polku bench``)."""
