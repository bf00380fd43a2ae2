"""Repository part: clips and the pose cache."""
from __future__ import annotations

import io
import json
import math
import os
import threading
import zipfile
from typing import Optional

import numpy as np

from ..errors import ProjectDamaged, StudioError
from ..pose.track import PoseTrack
from ..video import FrameTimes, VideoInfo, content_hash, probe
from .db import Database

MAX_JOINTS = 1024          # more joints than any skeleton: the blob is damaged
MAX_META_BYTES = 1 << 20   # the JSON metadata of a track is a few hundred bytes
_NPZ_MEMBERS = {"image.npy", "world.npy", "meta.npy"}
# per-frame presentation times and picture damage scores (tracks of newer projects)
_NPZ_OPTIONAL = {"times.npy", "damage.npy"}
_HASHING: dict[str, threading.Lock] = {}  # path -> lock: one thread hashes a new clip
_HASHING_GUARD = threading.Lock()


def _hash_lock(path: str) -> threading.Lock:
    with _HASHING_GUARD:
        return _HASHING.setdefault(path, threading.Lock())


_UPSERT_MAIN = (
    "INSERT INTO pose_tracks(content_hash, backend, settings_key, backend_version, "
    "frames, frames_done, complete, data) VALUES (?,?,?,?,?,?,?,?) "
    "ON CONFLICT(content_hash, backend, settings_key) DO UPDATE SET "
    "backend_version=excluded.backend_version, frames=excluded.frames, "
    "frames_done=excluded.frames_done, complete=excluded.complete, "
    "data=excluded.data, updated_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
_UPSERT_PERSON = (
    "INSERT INTO pose_people(content_hash, backend, settings_key, person, backend_version, "
    "frames, frames_done, complete, data) VALUES (?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT(content_hash, backend, settings_key, person) DO UPDATE SET "
    "backend_version=excluded.backend_version, frames=excluded.frames, "
    "frames_done=excluded.frames_done, complete=excluded.complete, "
    "data=excluded.data, updated_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
MAX_PERSON = 2 ** 31


def _person_number(person) -> int:
    if isinstance(person, bool) or not isinstance(person, (int, np.integer)) \
            or not 0 <= int(person) < MAX_PERSON:
        raise ValueError(f"a person is a track id (integer >= 0), got {person!r}")
    return int(person)


def _person_row(digest: str, person: int, t: PoseTrack) -> tuple:
    return (digest, t.backend, settings_key(t.settings), person, t.backend_version, len(t),
            t.frames_done, int(t.complete), t.to_npz_bytes())


def settings_key(settings: dict) -> str:
    """Canonical text of backend settings: part of the pose cache key."""
    return json.dumps(settings or {}, sort_keys=True, separators=(",", ":"))


def decode_track(data, frames: int) -> PoseTrack:
    """A stored pose blob back as a track; ValueError naming the problem when the blob is
    not what ``save_track`` wrote (garbage, truncated, wrong shapes, odd metadata). The
    archive's declared sizes are checked before anything is decompressed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"the pose data is {type(data).__name__}, not binary data")
    data = bytes(data)
    limit = max(int(frames), 1) * MAX_JOINTS * 4 * 4 + 4096
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = {i.filename: i.file_size for i in zf.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ValueError(f"the pose data is not a readable archive ({exc})") from None
    if not _NPZ_MEMBERS <= set(infos) <= _NPZ_MEMBERS | _NPZ_OPTIONAL:
        raise ValueError(f"the pose archive holds {sorted(infos)}, not image, world and meta")
    if (max(infos["image.npy"], infos["world.npy"]) > limit or infos["meta.npy"] > MAX_META_BYTES
            or infos.get("times.npy", 0) > max(int(frames), 1) * 8 + 4096
            or infos.get("damage.npy", 0) > max(int(frames), 1) * 4 + 4096):
        raise ValueError("the pose archive declares more data than the track can hold")
    try:
        track = PoseTrack.from_npz_bytes(data)
    except Exception as exc:  # noqa: BLE001 (numpy/zip/json raise many kinds on bad bytes)
        raise ValueError(f"the pose data cannot be decoded ({type(exc).__name__}: {exc})") from None
    if len(track) != frames:
        raise ValueError(f"the pose data holds {len(track)} frames, the cache says {frames}")
    if not 0 < track.image.shape[1] <= MAX_JOINTS:
        raise ValueError(f"the pose data has {track.image.shape[1]} joints per frame")
    if not (isinstance(track.fps, (int, float)) and math.isfinite(track.fps) and track.fps > 0):
        raise ValueError(f"the frame rate {track.fps!r} is not a positive number")
    if not all(isinstance(v, int) and v > 0 for v in (track.width, track.height)):
        raise ValueError(f"the frame size {track.width!r}x{track.height!r} is not valid")
    if not (isinstance(track.frames_done, int) and 0 <= track.frames_done <= len(track)):
        raise ValueError(f"frames done {track.frames_done!r} is not in 0..{len(track)}")
    if not isinstance(track.settings, dict) or not isinstance(track.backend, str):
        raise ValueError("the backend name or settings are not valid")
    return track


class PoseRepo:
    db: Database

    # -- clips ------------------------------------------------------------------------
    def clip_hash(self, path, info: Optional[VideoInfo] = None) -> str:
        """Content hash of a clip, cached in ``clips`` by (path, size, mtime): the file is
        read in full only the first time (or after it changed). The first time also
        records the clip's properties (``info``, else a quick probe); a file that does not
        decode is hashed but not recorded."""
        path = os.path.abspath(str(path))
        # Opening a clip asks from several jobs at once (clip list, pose lookup): the
        # lock makes the others wait for the first one's recorded hash instead of
        # reading the whole file again.
        with _hash_lock(path):
            st = os.stat(path)
            rows = self.db.query("SELECT content_hash, size, mtime FROM clips WHERE path = ?",
                                 (path,))
            if rows and rows[0]["size"] == st.st_size and rows[0]["mtime"] == st.st_mtime:
                return rows[0]["content_hash"]
            digest = content_hash(path)
            # Remembering the hash is an optimisation: a clip that does not decode, or a
            # busy store, still gets its hash.
            try:
                self.upsert_clip(info or probe(path), digest)
            except StudioError:
                pass
            return digest

    def clip_info(self, path, check: bool = False) -> VideoInfo:
        """A clip's properties with its frame timestamp table: read from the project when
        this content was probed before, else probed (the container's index, or one
        decoding pass) and stored. ``check`` makes sure every frame was decoded once (to
        know where a damaged file stops decoding)."""
        from ..video import _check_path  # noqa: PLC0415

        _check_path(path)
        digest = self.clip_hash(path)   # a new clip is probed and recorded here
        row, times = self.clip_by_path(path), self.frame_times(digest)
        if row is None or times is None or (check and not times.checked):
            info = probe(path, check)
            if not self.db.read_only:   # a read-only project answers without remembering
                self.upsert_clip(info, digest)
            return info
        return VideoInfo(row["path"], times.declared or row["frames"], row["fps"], row["width"],
                         row["height"], times)

    def frame_times(self, digest: str) -> Optional[FrameTimes]:
        rows = self.db.query("SELECT declared, decoded, fps, stop_reason, origin, pts FROM frame_times "
                             "WHERE content_hash = ?", (digest,))
        if not rows:
            return None
        r = rows[0]   # decoded < 0: the times come from the container's index
        return FrameTimes(r["fps"], np.frombuffer(r["pts"], dtype="<f8").copy(), r["declared"],
                          r["stop_reason"], r["origin"], checked=r["decoded"] >= 0)

    def save_frame_times(self, digest: str, times: Optional[FrameTimes]) -> None:
        """Store a clip's table; ``decoded`` is -1 for one read from the container's index
        (no frame decoded yet). An index table never replaces a decoded one."""
        if times is None or times.pts is None:
            return
        if not times.checked:
            known = self.frame_times(digest)
            if known is not None and known.checked:
                return
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO frame_times(content_hash, declared, decoded, fps, vfr, stop_reason, "
                "origin, pts) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(content_hash) DO UPDATE SET "
                "declared=excluded.declared, decoded=excluded.decoded, fps=excluded.fps, "
                "vfr=excluded.vfr, stop_reason=excluded.stop_reason, origin=excluded.origin, "
                "pts=excluded.pts",
                (digest, times.declared, -1 if times.decoded is None else times.decoded,
                 times.fps, int(times.vfr), times.stop,
                 times.origin, times.pts.astype("<f8").tobytes()))

    def upsert_clip(self, info: VideoInfo, digest: Optional[str] = None) -> int:
        path = os.path.abspath(info.path)
        st = os.stat(path)
        digest = digest or self.clip_hash(path)
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO clips(path, content_hash, size, mtime, frames, fps, width, height) "
                "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET "
                "content_hash=excluded.content_hash, size=excluded.size, mtime=excluded.mtime, "
                "frames=excluded.frames, fps=excluded.fps, width=excluded.width, height=excluded.height",
                (path, digest, st.st_size, st.st_mtime, info.frame_count, info.fps,
                 info.width, info.height))
            clip_id = conn.execute("SELECT id FROM clips WHERE path = ?", (path,)).fetchone()[0]
        self.save_frame_times(digest, info.times)
        return clip_id

    def clips(self) -> list[dict]:
        return [dict(r) for r in self.db.query("SELECT * FROM clips ORDER BY path")]

    def clip_by_path(self, path) -> Optional[dict]:
        rows = self.db.query("SELECT * FROM clips WHERE path = ?", (os.path.abspath(str(path)),))
        return dict(rows[0]) if rows else None

    # -- pose cache -----------------------------------------------------------------------
    def save_track(self, digest: str, track: PoseTrack) -> None:
        """Insert or replace the cached track (partial tracks too, for resuming)."""
        with self.db.write() as conn:
            conn.execute(
                _UPSERT_MAIN,
                (digest, track.backend, settings_key(track.settings), track.backend_version,
                 len(track), track.frames_done, int(track.complete), track.to_npz_bytes()))

    def load_track(self, digest: str, backend: str, settings: dict,
                   complete_only: bool = False) -> Optional[PoseTrack]:
        rows = self.db.query(
            "SELECT data, complete, frames FROM pose_tracks WHERE content_hash=? AND backend=? "
            "AND settings_key=?", (digest, backend, settings_key(settings)))
        if not rows or (complete_only and not rows[0]["complete"]):
            return None
        try:
            return decode_track(rows[0]["data"], rows[0]["frames"])
        except ValueError as exc:
            raise self._damaged(digest, backend, exc) from None

    def _damaged(self, digest: str, backend: str, exc: Exception, whose: str = "") -> ProjectDamaged:
        """The error for a stored track that cannot be read, with the command that redoes it."""
        name = self._clip_name(digest)
        return ProjectDamaged(
            f"Pose data of {whose}{name} ({backend}) in project {self.db.path} is damaged: {exc}; "
            f"extract it again with: python main.py extract-poses {name} --project {self.db.path}")

    def drop_damaged_track(self, digest: str, backend: str, settings: dict) -> Optional[str]:
        """Delete the cached extraction (the main subject's track and the other people's)
        when one of its tracks cannot be decoded (before extracting it again); returns what
        was wrong, or None when all were fine or absent."""
        key = (digest, backend, settings_key(settings))
        rows = self.db.query(
            "SELECT 0 AS person, data, frames FROM pose_tracks WHERE content_hash=? AND backend=? "
            "AND settings_key=? UNION ALL SELECT person, data, frames FROM pose_people "
            "WHERE content_hash=? AND backend=? AND settings_key=? ORDER BY person", key + key)
        for r in rows:
            try:
                decode_track(r["data"], r["frames"])
            except ValueError as exc:
                self.delete_track(digest, backend, settings)
                return str(exc) if r["person"] == 0 else f"person {r['person']}: {exc}"
        return None

    def _clip_name(self, digest: str) -> str:
        rows = self.db.query("SELECT path FROM clips WHERE content_hash=? ORDER BY id LIMIT 1",
                             (digest,))
        return rows[0]["path"] if rows else f"the clip with content hash {digest[:12]}"

    def track_status(self, digest: str) -> list[dict]:
        """Every cached track of one clip: backend, settings, frames_done, complete."""
        return [dict(r) for r in self.db.query(
            "SELECT backend, settings_key, frames, frames_done, complete, updated_at "
            "FROM pose_tracks WHERE content_hash=? ORDER BY updated_at DESC", (digest,))]

    def delete_track(self, digest: str, backend: str, settings: dict) -> None:
        """Forget one extraction: the main subject's track and every other person's."""
        key = (digest, backend, settings_key(settings))
        with self.db.write() as conn:
            conn.execute("DELETE FROM pose_tracks WHERE content_hash=? AND backend=? "
                         "AND settings_key=?", key)
            conn.execute("DELETE FROM pose_people WHERE content_hash=? AND backend=? "
                         "AND settings_key=?", key)

    # -- every person of the clip ------------------------------------------------------------
    # Person 0 is the main subject: its track is the one ``save_track``/``load_track`` keep in
    # pose_tracks. Every other person of the same extraction is numbered by its persistent
    # track id (>= 1) and kept in pose_people under the same (content, backend, settings).
    def save_person_track(self, digest: str, person: int, track: PoseTrack) -> None:
        """Insert or replace one person's track (person 0: the main subject, ``save_track``)."""
        person = _person_number(person)
        if person == 0:
            self.save_track(digest, track)
            return
        with self.db.write() as conn:
            conn.execute(_UPSERT_PERSON, _person_row(digest, person, track))

    def save_person_tracks(self, digest: str, tracks: dict) -> None:
        """Store the whole set of people of one extraction in one transaction: every track
        of ``tracks`` ({person: PoseTrack}, all of the same backend and settings) replaces
        the stored one, and stored people of that extraction missing from ``tracks`` are
        removed (the main subject's track is kept unless ``tracks`` has person 0)."""
        self.save_person_track_sets([(digest, tracks)])

    def save_person_track_sets(self, sets) -> list[bool]:
        """``save_person_tracks`` for many (digest, {person: PoseTrack}) sets, all in ONE
        transaction (an import of many pictures is stored whole or not at all). Every set
        is checked before anything is written. Returns, per non-empty set, whether it
        replaced people stored before under the same (digest, backend, settings)."""
        checked = []
        for digest, tracks in sets:
            rows = {_person_number(p): t for p, t in tracks.items()}
            keys = {(t.backend, settings_key(t.settings)) for t in rows.values()}
            if len(keys) > 1:
                raise ValueError("the tracks of one set of people must share backend and "
                                 "settings")
            if rows:
                checked.append((digest, rows, *keys.pop()))
        if not checked:
            return []
        replaced: list[bool] = []
        with self.db.write() as conn:
            for digest, rows, backend, skey in checked:
                where = (digest, backend, skey)
                replaced.append(any(conn.execute(
                    f"SELECT 1 FROM {table} WHERE content_hash=? AND backend=? "
                    "AND settings_key=? LIMIT 1", where).fetchone()
                    for table in ("pose_people", "pose_tracks")))
                conn.execute("DELETE FROM pose_people WHERE content_hash=? AND backend=? "
                             "AND settings_key=?", where)
                conn.executemany(_UPSERT_PERSON, [_person_row(digest, p, t)
                                                  for p, t in sorted(rows.items()) if p > 0])
                if 0 in rows:
                    t = rows[0]
                    conn.execute(_UPSERT_MAIN, (digest, t.backend, skey, t.backend_version,
                                                len(t), t.frames_done, int(t.complete),
                                                t.to_npz_bytes()))
        return replaced

    def person_track_settings(self, digest: str, backend: str) -> list[dict]:
        """The settings of every complete extraction of ``backend`` stored for a clip, the
        newest first (a clip extracted with several settings has several sets of people)."""
        rows = self.db.query(
            "SELECT settings_key FROM pose_tracks WHERE content_hash=? AND backend=? AND "
            "complete=1 ORDER BY updated_at DESC, id DESC", (digest, backend))
        out = []
        for r in rows:
            try:
                settings = json.loads(r["settings_key"])
            except ValueError:
                continue
            if isinstance(settings, dict):
                out.append(settings)
        return out

    def load_person_tracks(self, digest: str, backend: str, settings: dict,
                           complete_only: bool = False) -> dict[int, PoseTrack]:
        """Every stored person of one extraction, {person: track} in person order (0, the
        main subject, when stored); empty when none. ProjectDamaged names a damaged one."""
        out: dict[int, PoseTrack] = {}
        main = self.load_track(digest, backend, settings, complete_only)
        if main is not None:
            out[0] = main
        rows = self.db.query(
            "SELECT person, data, complete, frames FROM pose_people WHERE content_hash=? "
            "AND backend=? AND settings_key=? ORDER BY person",
            (digest, backend, settings_key(settings)))
        for r in rows:
            if complete_only and not r["complete"]:
                continue
            try:
                out[int(r["person"])] = decode_track(r["data"], r["frames"])
            except ValueError as exc:
                raise self._damaged(digest, backend, exc, f"person {r['person']} of ") from None
        return out

    # -- project settings --------------------------------------------------------------------
    def get_setting(self, key: str, default=None):
        rows = self.db.query("SELECT value FROM project_settings WHERE key=?", (key,))
        if not rows:
            return default
        try:
            return json.loads(rows[0]["value"])
        except (TypeError, ValueError):
            raise ProjectDamaged(f"Project setting '{key}' in {self.db.path} is damaged "
                                 "(not valid JSON)") from None

    def set_setting(self, key: str, value) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT INTO project_settings(key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                         (key, json.dumps(value)))
