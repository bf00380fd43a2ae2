"""Dataset engine: pure per-item stages mapped over many clips by a runner (local or Ray),
their results persisted by a sink (the SQLite project, or sharded files of a dataset run).

``stage.py`` is the contract every other part of the engine and every stage codes against.
Nothing here imports Qt; Ray is imported only by the Ray runner, lazily.
"""
