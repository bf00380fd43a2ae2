"""Pose: skeleton definitions, pose tracks, estimator backends, import/export."""
