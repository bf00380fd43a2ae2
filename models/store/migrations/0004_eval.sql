-- 0004: evaluation runs (one backend over one QA set), their item snapshot and answers.
-- `settings` is JSON: frame sampling, prompt template and generation parameters; runs with
-- the same backend, model, settings and item set resume instead of starting again.
CREATE TABLE eval_runs (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    backend       TEXT NOT NULL,
    model         TEXT NOT NULL,
    model_revision TEXT,
    settings      TEXT NOT NULL,
    settings_key  TEXT NOT NULL,
    items_key     TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'cancelled', 'done', 'failed')),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at   TEXT
);
CREATE INDEX eval_runs_key ON eval_runs(backend, model, settings_key, items_key);

-- The QA set of a run, frozen when the run starts (the full canonical record as JSON).
CREATE TABLE eval_run_items (
    run_id        INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
    qa_id         TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    task          TEXT NOT NULL,
    answer_index  INTEGER NOT NULL,
    record        TEXT NOT NULL,
    PRIMARY KEY (run_id, qa_id)
);

-- One answer per (run, item). parsed: chosen option index or NULL (unparseable);
-- abstained = 1 where a reference backend cannot answer that item at all.
CREATE TABLE eval_answers (
    run_id        INTEGER NOT NULL,
    qa_id         TEXT NOT NULL,
    raw           TEXT,
    parsed        INTEGER,
    correct       INTEGER NOT NULL,
    abstained     INTEGER NOT NULL DEFAULT 0,
    gen_s         REAL,
    total_s       REAL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (run_id, qa_id),
    FOREIGN KEY (run_id, qa_id) REFERENCES eval_run_items(run_id, qa_id) ON DELETE CASCADE
);
