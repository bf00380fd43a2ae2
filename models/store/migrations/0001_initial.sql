-- 0001: clips of the project and the pose cache.
CREATE TABLE clips (
    id            INTEGER PRIMARY KEY,
    path          TEXT NOT NULL UNIQUE,
    content_hash  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    mtime         REAL NOT NULL,
    frames        INTEGER NOT NULL,
    fps           REAL NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    added_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX clips_hash ON clips(content_hash);

-- One row per (video content, backend, settings): reopening a clip never re-extracts.
-- `data` is an npz of plain float arrays plus JSON metadata (never a pickle).
CREATE TABLE pose_tracks (
    id            INTEGER PRIMARY KEY,
    content_hash  TEXT NOT NULL,
    backend       TEXT NOT NULL,
    settings_key  TEXT NOT NULL,
    backend_version TEXT NOT NULL DEFAULT '',
    frames        INTEGER NOT NULL,
    frames_done   INTEGER NOT NULL,
    complete      INTEGER NOT NULL DEFAULT 0,
    data          BLOB NOT NULL,
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (content_hash, backend, settings_key)
);

CREATE TABLE project_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
