"""Bringing a dataset run's results into a SQLite project, for curation.

Every ok result of every stage is read from the run's shards (deduplicated by key, one
shard at a time) and merged by what it holds, whatever stage made it:

- ``"track"`` or ``"track_npz"`` (bytes of ``PoseTrack.to_npz_bytes``; the ``poses``
  stage): the clip's track goes into the pose cache (keyed by content hash, backend and
  settings; a complete track of the same backend version already there is kept, so
  merging again adds nothing);
- ``"people"`` (bytes of ``People.to_npz_bytes``; the ``people`` stage): every person's
  track via ``save_person_tracks``, the main person as person 0 and the others 1..N in
  tracker id order (the result's ``person_of``); a set already stored complete with the
  same persons, frames and backend version is kept, so merging again adds nothing;
- ``"qa"``, ``"records"`` (the rule ``qa`` stage) or ``"items"`` (``p3_qa``): lists of
  ``QARecord.to_dict()`` dicts:
  added to the QA tables in large transactions; an existing qa_id is kept (so merging
  twice adds nothing). A record without a ``video`` gets the item's path;
- ``"answer"`` (one ``model_answers`` record, e.g. a P1 description or P2 difference) or
  ``"answers"`` (a list of them): saved as model answers with the result key in their
  ``generation_params`` (``engine_key``); answers already merged are skipped;
- ``"windows"`` / ``"pairs"`` holding model texts with their ``provenance`` (``p1_describe``,
  ``p2_differences``): each kept text becomes a model answer (its contradictions with the
  rule facts in ``generation_params``), so the descriptions can be read beside the clip.
"""
from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Optional

from ..qa.record import Provenance, QARecord, Review
from .shards import RunFolder, RunFolderError, ShardSink, decode_result

__all__ = ["merge_run"]

QA_CHUNK = 50_000
ANSWER_CHUNK = 20_000


_QA_FIELDS = {f.name for f in fields(QARecord)}


def _part(klass, value):
    if not isinstance(value, dict):
        return klass()
    known = {f.name for f in fields(klass)}
    return klass(**{k: v for k, v in value.items() if k in known and v is not None})


def _qa_records(result: dict, row: dict, where: str, present: set) -> list:
    """QARecords of a result not yet in the project (``present``: qa_ids there). They
    are checked against the schema by ``add_qa_items``; here they are only built."""
    out = []
    listed = result.get("qa") or result.get("records") or result.get("items") or []
    for i, d in enumerate(listed if isinstance(listed, list) else []):
        if not isinstance(d, dict):
            raise RunFolderError(f"{where}: qa item {i} is not a record")
        if d.get("qa_id") in present:
            continue
        kw = {k: v for k, v in d.items() if k in _QA_FIELDS and v is not None}
        if not kw.get("video"):
            kw["video"] = row["video"]
        kw["provenance"] = _part(Provenance, d.get("provenance"))
        kw["review"] = _part(Review, d.get("review"))
        try:
            out.append(QARecord(**kw))
        except TypeError:
            out.append(QARecord.from_dict(d, f"{where} qa item {i}"))  # names the field
        present.add(d.get("qa_id"))
    return out


def _model_texts(result: dict) -> list:
    """P1/P2 texts as ``model_answers`` records (only texts that were kept)."""
    out = []
    for unit in list(result.get("windows") or []) + list(result.get("pairs") or []):
        prov = unit.get("provenance") if isinstance(unit, dict) else None
        if not isinstance(prov, dict) or unit.get("status", "ok") != "ok" or not unit.get("text"):
            continue
        stats = prov.get("stats") or {}
        frames = list(prov.get("frame_indices") or [])
        if "frame_a" in unit:
            start, end = unit.get("frame_a"), unit.get("frame_b")
        else:
            start, end = unit.get("start_frame"), unit.get("end_frame")
        gp = dict(prov.get("generation_params") or {})
        gp["contradictions"] = list(unit.get("contradictions") or [])
        gp["endpoint"] = prov.get("endpoint", "")
        out.append({"start_frame": start if start is not None else (frames[0] if frames else 0),
                    "end_frame": end if end is not None else (frames[-1] if frames else 0),
                    "frame_indices": frames, "backend": prov.get("backend", ""),
                    "model_id": prov.get("model_id", ""), "model_revision": prov.get("model_revision", ""),
                    "template_id": prov.get("template_id", ""),
                    "template_version": str(prov.get("template_version", "")),
                    "prompt": unit.get("prompt", ""), "answer": unit["text"],
                    "generation_params": gp, "seed": prov.get("seed"),
                    "pose_grounding": bool(prov.get("pose_grounding", False)),
                    "ttft_s": stats.get("ttft_s"), "total_s": stats.get("total_s") or 0.0,
                    "tokens_per_s": stats.get("tokens_per_s"),
                    "prompt_tokens": stats.get("prompt_tokens"),
                    "completion_tokens": stats.get("completion_tokens")})
    return out


def _answers(result: dict, row: dict, key: str) -> list:
    recs = []
    if isinstance(result.get("answer"), dict):
        recs.append(result["answer"])
    recs.extend(a for a in (result.get("answers") or []) if isinstance(a, dict))
    recs.extend(_model_texts(result))
    out = []
    for i, a in enumerate(recs):
        gp = dict(a.get("generation_params") or {})
        gp["engine_key"] = key if len(recs) == 1 else f"{key}#{i}"
        a = dict(a, generation_params=gp)
        a.setdefault("video", row["video"])
        a.setdefault("content_hash", row["item_id"])
        a.setdefault("frame_indices", [])
        a.setdefault("template_id", row["stage"])
        a.setdefault("template_version", "")
        a.setdefault("backend", "engine")
        a.setdefault("model_id", row.get("model_id") or "")
        for col in ("question", "prompt", "answer"):
            a.setdefault(col, "")
        out.append(a)
    return out


def _has_track(repo, digest: str, track) -> bool:
    """The project already holds this clip's complete track of the same backend, version
    and settings (merging again leaves it as it is and counts nothing)."""
    from ..store.repo_poses import settings_key  # noqa: PLC0415

    rows = repo.db.query("SELECT frames, complete, backend_version FROM pose_tracks WHERE "
                         "content_hash=? AND backend=? AND settings_key=?",
                         (digest, track.backend, settings_key(track.settings)))
    return bool(rows) and bool(rows[0]["complete"]) and rows[0]["frames"] == len(track) \
        and rows[0]["backend_version"] == track.backend_version


def _has_people(repo, digest: str, tracks: dict) -> bool:
    """The project already holds exactly this set of people (same persons, each complete
    with the same frames and backend version) under the same backend and settings."""
    from ..store.repo_poses import settings_key  # noqa: PLC0415

    any_track = next(iter(tracks.values()))
    rows = repo.db.query("SELECT person, frames, complete, backend_version FROM pose_people "
                         "WHERE content_hash=? AND backend=? AND settings_key=?",
                         (digest, any_track.backend, settings_key(any_track.settings)))
    stored = {int(r["person"]): r for r in rows}
    if set(stored) != {p for p in tracks if p > 0}:
        return False
    if 0 in tracks and not _has_track(repo, digest, tracks[0]):
        return False
    return all(bool(stored[p]["complete"]) and stored[p]["frames"] == len(t)
               and stored[p]["backend_version"] == t.backend_version
               for p, t in tracks.items() if p > 0)


def _register_clip(repo, path: str, digest: str) -> None:
    """The clip's row in the project (path, content hash, size, frame times), as opening it
    on the desktop makes: how QA checks, curation and the player find a merged clip's poses.
    A clip this machine cannot read, or whose bytes are not the run's, is left out."""
    from ..errors import StudioError  # noqa: PLC0415
    from ..video import probe  # noqa: PLC0415

    known = repo.clip_by_path(path) if path else None
    if known is not None or not path or not os.path.isfile(path):
        return
    try:
        if repo.clip_hash(path) != digest:     # hashes the file once; records it when it decodes
            return
        if repo.clip_by_path(path) is None:
            repo.upsert_clip(probe(path), digest)
    except (StudioError, OSError):
        return


def _merged_answer_keys(repo) -> set:
    rows = repo.db.query("SELECT json_extract(generation_params, '$.engine_key') AS k "
                         "FROM model_answers WHERE generation_params LIKE '%engine_key%'")
    return {r["k"] for r in rows if r["k"]}


def _merge_people(repo, row: dict, data: bytes, where: str) -> int:
    """Store a ``people`` result's tracks (main person = 0); the number of tracks added."""
    from ..pose.people import People  # noqa: PLC0415
    from .stages.people import person_tracks  # noqa: PLC0415

    try:
        tracks = person_tracks(People.from_npz_bytes(data))
    except (ValueError, KeyError, OSError, TypeError) as exc:
        raise RunFolderError(f"{where}: the people cannot be read: {exc}") from None
    added = 0
    if tracks and not _has_people(repo, row["item_id"], tracks):
        repo.save_person_tracks(row["item_id"], tracks)
        added = len(tracks)
    _register_clip(repo, row["video"], row["item_id"])
    return added


def merge_run(run_dir, project, stages: Optional[list] = None) -> dict:
    """Merge a run into ``project`` (a project path or an open ``Repository``); counts of
    what was added: tracks, people (person tracks), qa, answers, results read. Idempotent."""
    from ..pose.track import PoseTrack  # noqa: PLC0415

    folder = RunFolder(run_dir)
    if folder.info() is None:
        raise RunFolderError(f"{run_dir} is not a dataset run folder (no run.json)")
    own = not hasattr(project, "add_qa_items")
    if own:
        from ..store import Repository  # noqa: PLC0415

        repo = Repository(Path(project))
    else:
        repo = project
    counts: dict = {"results": 0, "tracks": 0, "people": 0, "qa": 0, "answers": 0}
    added_ids: list = []
    sources: set = set()
    try:
        sink = ShardSink(folder.path)
        qa_buf: list = []
        ans_buf: list = []
        known_answers = _merged_answer_keys(repo)
        present = {r["qa_id"] for r in repo.db.query("SELECT qa_id FROM qa_items")}

        def flush_qa() -> None:
            if qa_buf:
                counts["qa"] += repo.add_qa_items(qa_buf)
                added_ids.extend(r.qa_id for r in qa_buf)
                sources.update(r.source for r in qa_buf)
                qa_buf.clear()

        def flush_answers() -> None:
            if ans_buf:
                counts["answers"] += repo.save_answers(ans_buf)
                ans_buf.clear()

        stage_dirs = sorted(p.name for p in sink.root.iterdir()) if sink.root.is_dir() else []
        for stage in stage_dirs:
            if stages is not None and stage not in stages:
                continue
            for row in sink.rows(stage, columns=["key", "stage", "item_id", "video", "name",
                                                 "model_id", "status", "result_json", "blob"]):
                if row["status"] != "ok" or row["result_json"] is None:
                    continue
                counts["results"] += 1
                where = f"result {row['key'][:12]} of stage {stage} ({row['name']})"
                try:
                    result = decode_result(row["result_json"], row["blob"])
                except (ValueError, json.JSONDecodeError) as exc:
                    raise RunFolderError(f"{where} cannot be read: {exc}") from None
                if not isinstance(result, dict):
                    continue
                track = result.get("track_npz", result.get("track"))
                if isinstance(track, bytes):
                    try:
                        t = PoseTrack.from_npz_bytes(track)
                    except (ValueError, KeyError, OSError) as exc:
                        raise RunFolderError(f"{where}: the pose track cannot be read: "
                                             f"{exc}") from None
                    if not _has_track(repo, row["item_id"], t):
                        repo.save_track(row["item_id"], t)
                        counts["tracks"] += 1
                    _register_clip(repo, row["video"], row["item_id"])
                if isinstance(result.get("people"), bytes):
                    counts["people"] += _merge_people(repo, row, result["people"], where)
                if result.get("qa") or result.get("records") or result.get("items"):
                    qa_buf.extend(_qa_records(result, row, where, present))
                    if len(qa_buf) >= QA_CHUNK:
                        flush_qa()
                for a in _answers(result, row, row["key"]):
                    if a["generation_params"]["engine_key"] not in known_answers:
                        known_answers.add(a["generation_params"]["engine_key"])
                        ans_buf.append(a)
                        if len(ans_buf) >= ANSWER_CHUNK:
                            flush_answers()
        flush_qa()
        flush_answers()
    finally:
        if own:
            repo.close()
    counts["qa_ids"] = added_ids
    counts["sources"] = sorted(sources)
    counts["source"] = counts["sources"][0] if len(sources) == 1 else ""
    counts["summary"] = (f"merged {counts['results']} results: {counts['tracks']} pose tracks, "
                         f"{counts['qa']} QA items, {counts['answers']} model texts, "
                         f"{counts['people']} people tracks")
    return counts
