"""Notebook training jobs: submission, execution backends and their records."""
