"""Dataset views: the clip list."""
