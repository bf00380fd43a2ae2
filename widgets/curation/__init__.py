"""QA curation views: the lazily loaded QA table, the item editor and the panel."""
