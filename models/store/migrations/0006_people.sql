-- 0006: every person in the clip.
-- The main subject keeps its row in pose_tracks (it is person 0, what every reader of the
-- cache has always read). Each other person of the same extraction (same content, backend
-- and settings) is one row here, numbered by its persistent track id (1, 2, ...). Same blob
-- format as pose_tracks.data.
CREATE TABLE pose_people (
    id            INTEGER PRIMARY KEY,
    content_hash  TEXT NOT NULL,
    backend       TEXT NOT NULL,
    settings_key  TEXT NOT NULL,
    person        INTEGER NOT NULL CHECK (person >= 1),
    backend_version TEXT NOT NULL DEFAULT '',
    frames        INTEGER NOT NULL,
    frames_done   INTEGER NOT NULL,
    complete      INTEGER NOT NULL DEFAULT 0,
    data          BLOB NOT NULL,
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (content_hash, backend, settings_key, person)
);

-- The person a QA item is about: its track id and how the question names it ("the person
-- on the left"). NULL person: the main subject (every item made before this change).
ALTER TABLE qa_items ADD COLUMN person INTEGER;
ALTER TABLE qa_items ADD COLUMN person_referent TEXT;
