-- 0002: captions, QA items (SPEC section 7), curation history and the undo/redo stack.

-- Captions: imported from CSV/JSON or typed by a person. `video` is the path relative to
-- the dataset root (same convention as qa_items.video).
CREATE TABLE captions (
    id          INTEGER PRIMARY KEY,
    video       TEXT NOT NULL,
    start_s     REAL,
    end_s       REAL,
    text        TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'imported',
    origin      TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX captions_video ON captions(video);

-- One row per QA item: every canonical field, the provenance and the review fields.
-- JSON columns: options, generation_params, frame_indices, facts.
CREATE TABLE qa_items (
    qa_id           TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL,
    task            TEXT NOT NULL,
    video           TEXT NOT NULL,
    start_s         REAL,
    end_s           REAL,
    frame_a         INTEGER,
    frame_b         INTEGER,
    question        TEXT NOT NULL,
    options         TEXT NOT NULL,
    answer_index    INTEGER NOT NULL,
    source          TEXT NOT NULL,
    model_id        TEXT,
    model_revision  TEXT,
    prompt_template TEXT,
    prompt_version  TEXT,
    generation_params TEXT,
    seed            INTEGER,
    frame_indices   TEXT,
    pose_backend    TEXT,
    pose_backend_version TEXT,
    facts           TEXT,
    status          TEXT NOT NULL DEFAULT 'candidate'
                    CHECK (status IN ('candidate', 'accepted', 'rejected', 'edited', 'needs_fix')),
    note            TEXT,
    created_at      TEXT,
    updated_at      TEXT,
    gen_key         TEXT
);
CREATE INDEX qa_items_seq ON qa_items(seq);
CREATE INDEX qa_items_task ON qa_items(task, seq);
CREATE INDEX qa_items_status ON qa_items(status, seq);
CREATE INDEX qa_items_source ON qa_items(source, seq);
CREATE INDEX qa_items_video ON qa_items(video, seq);

-- Every curation action (one user action = one row = one transaction).
-- state: 'done' (on the undo stack), 'undone' (on the redo stack), 'discarded' (a redo
-- entry dropped by a newer action; kept for the history).
CREATE TABLE qa_actions (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    label       TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'done' CHECK (state IN ('done', 'undone', 'discarded')),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX qa_actions_state ON qa_actions(state, id);

-- Before/after of every row an action touched (full row as JSON; NULL = row absent).
CREATE TABLE qa_history (
    id          INTEGER PRIMARY KEY,
    action_id   INTEGER NOT NULL REFERENCES qa_actions(id),
    qa_id       TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX qa_history_action ON qa_history(action_id);
CREATE INDEX qa_history_item ON qa_history(qa_id, id);

-- Generation runs already done (resume: skip a clip generated with the same settings).
CREATE TABLE qa_generation_runs (
    video       TEXT NOT NULL,
    gen_key     TEXT NOT NULL,
    settings    TEXT NOT NULL,
    items       INTEGER NOT NULL,
    rejected    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (video, gen_key)
);

-- Quality-check flags per item (e.g. the blind test: answered right without frames).
CREATE TABLE qa_flags (
    qa_id       TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    detail      TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (qa_id, check_id)
);
