-- 0003: VLM endpoints, comparisons and saved model answers (issue 4).

-- OpenAI-compatible servers the user added. The API key itself is never stored: only the
-- name of the environment variable that holds it (api_key_env).
CREATE TABLE endpoints (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    base_url     TEXT NOT NULL,
    model        TEXT NOT NULL DEFAULT '',
    api_key_env  TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One comparison: one clip window / frame set, one prompt, several backends' answers.
CREATE TABLE comparisons (
    id               INTEGER PRIMARY KEY,
    title            TEXT NOT NULL DEFAULT '',
    video            TEXT NOT NULL,
    content_hash     TEXT NOT NULL DEFAULT '',
    start_frame      INTEGER,
    end_frame        INTEGER,
    frame_indices    TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    template_version TEXT NOT NULL,
    question         TEXT NOT NULL,
    prompt           TEXT NOT NULL,
    options          TEXT NOT NULL DEFAULT '[]',
    answer_index     INTEGER,
    pose_grounding   INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One answer of one backend, with full provenance and timings.
-- JSON columns: frame_indices, generation_params, options.
CREATE TABLE model_answers (
    id                INTEGER PRIMARY KEY,
    comparison_id     INTEGER REFERENCES comparisons(id) ON DELETE CASCADE,
    position          INTEGER NOT NULL DEFAULT 0,
    video             TEXT NOT NULL,
    content_hash      TEXT NOT NULL DEFAULT '',
    start_frame       INTEGER,
    end_frame         INTEGER,
    frame_indices     TEXT NOT NULL,
    backend           TEXT NOT NULL,
    model_id          TEXT NOT NULL,
    model_revision    TEXT NOT NULL DEFAULT '',
    family            TEXT NOT NULL DEFAULT '',
    device            TEXT NOT NULL DEFAULT '',
    dtype             TEXT NOT NULL DEFAULT '',
    template_id       TEXT NOT NULL,
    template_version  TEXT NOT NULL,
    question          TEXT NOT NULL,
    prompt            TEXT NOT NULL,
    options           TEXT NOT NULL DEFAULT '[]',
    answer_index      INTEGER,
    generation_params TEXT NOT NULL,
    seed              INTEGER,
    pose_grounding    INTEGER NOT NULL DEFAULT 0,
    answer            TEXT NOT NULL,
    chosen_index      INTEGER,
    correct           INTEGER,
    status            TEXT NOT NULL DEFAULT 'ok',
    error             TEXT NOT NULL DEFAULT '',
    load_s            REAL,
    ttft_s            REAL,
    total_s           REAL,
    tokens_per_s      REAL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    peak_mem_bytes    INTEGER,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX model_answers_video ON model_answers(video);
CREATE INDEX model_answers_comparison ON model_answers(comparison_id);
