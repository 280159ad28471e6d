"""careflow benchmarks: ``make bench`` (``python -m bench``)."""
