"""A sink onto a SQLite project: the results of stages go where the desktop keeps them.

``ProjectSink(repo)`` writes each outcome through the project's ``Repository``, one
transaction per result, by what the result holds (as ``merge_run`` does for a run folder):

- ``"track"`` (the ``poses`` stage): the pose cache, keyed by the clip's content hash, the
  backend and its settings, exactly where desktop extraction puts it; a clip whose file
  stops decoding early gets its frame count and frame times corrected as the desktop
  does. ``checkpoint(task, track)`` keeps a partial track there too, so a cancelled clip
  resumes (``resume(task)`` hands it back);
- ``"qa"`` / ``"records"`` / ``"items"``: the QA tables (existing qa_ids kept), with a
  generation run that names the result key;
- ``"answer"`` / ``"answers"`` / model texts: ``model_answers``, with the result key in
  their ``generation_params`` (``engine_key``);
- ``"people"`` (the ``people`` stage): every person's track, as a merge stores them
  (``Repository.save_person_tracks``: the main person as person 0, the others 1..N, under
  backend ``mediapipe-multi`` and the run's ``people_settings``); a set already stored
  the same is not written again.

``done()`` answers from the project for the tasks the sink was told about (``expect``):
a poses task is done when its complete track is cached; a people task when the project
holds people under its settings; a QA or answer task when its result key is recorded.
Failures are kept in memory only (the project has no place for them): ``failed()`` says
what failed through this sink.
"""
from __future__ import annotations

import json
from typing import Iterable, Optional

from .merge import _answers, _merge_people, _merged_answer_keys, _qa_records
from .stage import Outcome, Task

__all__ = ["ProjectSink"]


def _row(task: Task) -> dict:
    """The fields merge's record builders read from a result row."""
    return {"key": task.key, "stage": task.stage, "item_id": task.item.id,
            "video": task.item.video, "name": task.item.name, "model_id": task.model_id}


class ProjectSink:
    """Stage results into a project (an open ``Repository``, owned by the caller)."""

    def __init__(self, repo, tasks: Iterable[Task] = ()) -> None:
        self.repo = repo
        self.tasks: dict[str, Task] = {}
        self._failed: dict[str, int] = {}
        self.expect(tasks)

    def expect(self, tasks: Iterable[Task]) -> None:
        """Tasks whose results ``done`` and ``results`` look up in the project."""
        for t in tasks:
            self.tasks[t.key] = t

    # -- what the project already holds ---------------------------------------------------
    @staticmethod
    def _pose_key(task: Task) -> tuple[str, dict]:
        from ..pose import registry  # noqa: PLC0415
        from .stage import get_stage  # noqa: PLC0415

        p = get_stage(task.stage).params(task.params)
        backend = p["backend"]
        return backend, registry.get(backend).settings(p.get("settings") or None)

    def _track_complete(self, task: Task) -> bool:
        from ..store.repo_poses import settings_key  # noqa: PLC0415

        backend, settings = self._pose_key(task)
        key = settings_key(settings)
        return any(r["backend"] == backend and r["settings_key"] == key and r["complete"]
                   for r in self.repo.track_status(task.item.id))

    def _people_stored(self, task: Task) -> bool:
        """The project holds complete people of ``task``'s clip under its settings."""
        from ..store.repo_poses import settings_key  # noqa: PLC0415
        from .stage import get_stage  # noqa: PLC0415
        from .stages.basic import _number  # noqa: PLC0415
        from .stages.people import BACKEND, MAX_PERSONS, _tracker, people_settings  # noqa: PLC0415

        p = get_stage("people").params(task.params)
        most = _number("people", p, "max_persons", 1, integer=True, high=MAX_PERSONS)
        key = settings_key(people_settings(most, _tracker(p)))
        where = (task.item.id, BACKEND, key)
        return any(self.repo.db.query(
            f"SELECT 1 FROM {table} WHERE content_hash=? AND backend=? AND settings_key=? "
            "AND complete=1 LIMIT 1", where) for table in ("pose_tracks", "pose_people"))

    def _qa_keys(self) -> set:
        rows = self.repo.db.query(
            "SELECT json_extract(settings, '$.engine_key') AS k FROM qa_generation_runs "
            "WHERE settings LIKE '%engine_key%'")
        return {r["k"] for r in rows if r["k"]}

    def done(self) -> set:
        answers: Optional[set] = None
        qa: set = set()
        out = set()
        for key, task in self.tasks.items():
            if task.stage == "poses":
                if self._track_complete(task):
                    out.add(key)
                continue
            if task.stage == "people":
                if self._people_stored(task):
                    out.add(key)
                continue
            if answers is None:
                answers, qa = _merged_answer_keys(self.repo), self._qa_keys()
            if key in qa or key in answers or f"{key}#0" in answers:
                out.add(key)
        return out

    def failed(self) -> dict:
        return dict(self._failed)

    def resume(self, task: Task) -> Optional[dict]:
        """The partial poses result the project keeps for ``task`` ({"track": bytes}), or
        None (no partial track, or a complete one)."""
        backend, settings = self._pose_key(task)
        track = self.repo.load_track(task.item.id, backend, settings)
        if track is None or track.complete or not track.frames_done:
            return None
        return {"track": track.to_npz_bytes()}

    def results(self, keys: Iterable[str]) -> dict:
        """Poses results of expected tasks whose complete track is cached."""
        from .stages.basic import track_to_result  # noqa: PLC0415

        out = {}
        for k in keys:
            task = self.tasks.get(k)
            if task is None or task.stage != "poses":
                continue
            backend, settings = self._pose_key(task)
            track = self.repo.load_track(task.item.id, backend, settings, complete_only=True)
            if track is not None:
                out[k] = track_to_result(track)
        return out

    # -- writing ---------------------------------------------------------------------------
    def checkpoint(self, task: Task, track) -> None:
        """Keep a partial track of ``task``'s clip (for resuming); a complete track cached
        meanwhile is never replaced by a partial one."""
        if track.complete or not track.frames_done or self._track_complete(task):
            return
        self.repo.save_track(task.item.id, track)

    def write(self, outcome: Outcome) -> None:
        if outcome.status != "ok" or not isinstance(outcome.result, dict):
            self._failed[outcome.key] = outcome.attempts
            return
        self._failed.pop(outcome.key, None)
        task, result = outcome.task, outcome.result
        if isinstance(result.get("track"), (bytes, bytearray)):
            self._write_track(task, result)
        if isinstance(result.get("people"), (bytes, bytearray, memoryview)):
            self._write_people(task, result)
        if result.get("qa") or result.get("records") or result.get("items"):
            self._write_qa(task, result)
        self._write_answers(task, result)

    def _write_people(self, task: Task, result: dict) -> None:
        where = f"result {task.key[:12]} of stage {task.stage} ({task.item.name})"
        _merge_people(self.repo, _row(task), bytes(result["people"]), where)

    def _write_track(self, task: Task, result: dict) -> None:
        from ..video import VideoInfo, decoded_times  # noqa: PLC0415
        from .stages.basic import track_from_result  # noqa: PLC0415

        track = track_from_result(result)
        digest = task.item.id
        if result.get("trimmed"):   # the file stops decoding before its declared end
            row = self.repo.clip_by_path(task.item.video)
            if row is not None:
                self.repo.upsert_clip(VideoInfo(row["path"], len(track), row["fps"], row["width"],
                                                row["height"], None), digest)
        self.repo.save_track(digest, track)
        times = self.repo.frame_times(digest)
        if times is not None and not times.checked:
            # every frame was decoded once now: the project learns where decoding stops
            self.repo.save_frame_times(digest, decoded_times(times, track.frames_done))

    def _write_qa(self, task: Task, result: dict) -> None:
        present: set = set()       # add_qa_items keeps the qa_ids already there
        where = f"result {task.key[:12]} of stage {task.stage} ({task.item.name})"
        records = _qa_records(result, _row(task), where, present)
        given = result.get("settings")
        settings: dict = dict(given) if isinstance(given, dict) else {}
        run = {"video": str(result.get("video") or task.item.video),
               "settings": json.loads(json.dumps(dict(settings, engine_key=task.key)))}
        self.repo.add_qa_items(records, gen_key=result.get("key") or task.key, run=run)

    def _write_answers(self, task: Task, result: dict) -> None:
        recs = _answers(result, _row(task), task.key)
        if not recs:
            return
        known = _merged_answer_keys(self.repo)
        new = [a for a in recs if a["generation_params"]["engine_key"] not in known]
        if new:
            self.repo.save_answers(new)

    def flush(self) -> None:
        pass          # every write is its own transaction

    def close(self) -> None:
        pass          # the repository belongs to the caller
