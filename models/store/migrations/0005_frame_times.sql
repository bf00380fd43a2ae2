-- 0005: the presentation time of every frame of a clip, read once when the clip is first
-- probed, and how far the file really decodes. Keyed by content like the pose cache.
-- `pts` holds little-endian float64 seconds from the first frame, one per decodable frame.
CREATE TABLE frame_times (
    content_hash  TEXT PRIMARY KEY,
    declared      INTEGER NOT NULL,
    decoded       INTEGER NOT NULL,
    fps           REAL NOT NULL,
    vfr           INTEGER NOT NULL,
    stop_reason   TEXT,
    origin        REAL NOT NULL DEFAULT 0,
    pts           BLOB NOT NULL
);
