"""Settings for bench/intake_lean.py: the benchmark settings, served with bench.urls (the
product's URLs plus the bare yardstick endpoint, which the product never serves)."""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
