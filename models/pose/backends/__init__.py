"""Pose estimator implementations; each imports its heavy library lazily."""
