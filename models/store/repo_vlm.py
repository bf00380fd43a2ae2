"""Repository part: VLM endpoints, saved model answers and comparisons (0003_vlm.sql).

Answers are plain dicts (``models.vlm.service.Answer.as_record()`` makes one). API keys are
never stored; an endpoint records only the name of the environment variable holding it.
"""
from __future__ import annotations

import json
from typing import Optional

from ..errors import StoreError
from .db import Database

_JSON_COLUMNS = ("frame_indices", "generation_params", "options")
ANSWER_COLUMNS = (
    "comparison_id", "position", "video", "content_hash", "start_frame", "end_frame",
    "frame_indices", "backend", "model_id", "model_revision", "family", "device", "dtype",
    "template_id", "template_version", "question", "prompt", "options", "answer_index",
    "generation_params", "seed", "pose_grounding", "answer", "chosen_index", "correct",
    "status", "error", "load_s", "ttft_s", "total_s", "tokens_per_s", "prompt_tokens",
    "completion_tokens", "peak_mem_bytes")
COMPARISON_COLUMNS = (
    "title", "video", "content_hash", "start_frame", "end_frame", "frame_indices",
    "template_id", "template_version", "question", "prompt", "options", "answer_index",
    "pose_grounding")
_FORBIDDEN = ("api_key", "authorization")


def _encode(record: dict, columns) -> tuple[tuple, tuple]:
    """(columns present, values): absent/None columns take the table's default."""
    if any(k.lower() in _FORBIDDEN for k in record):
        raise StoreError("Refusing to store an API key in the project file")
    cols, out = [], []
    for col in columns:
        value = record.get(col)
        if value is None:
            continue
        if col in _JSON_COLUMNS:
            value = json.dumps(value, sort_keys=True)
        elif isinstance(value, bool):
            value = int(value)
        cols.append(col)
        out.append(value)
    return tuple(cols), tuple(out)


def _decode(row) -> dict:
    d = dict(row)
    for col in _JSON_COLUMNS:
        if col in d and isinstance(d[col], str):
            d[col] = json.loads(d[col])
    for col in ("pose_grounding",):
        if col in d:
            d[col] = bool(d[col])
    if d.get("correct") is not None:
        d["correct"] = bool(d["correct"])
    return d


def _insert(conn, table: str, record: dict, columns) -> int:
    cols, values = _encode(record, columns)
    cur = conn.execute(f"INSERT INTO {table}({', '.join(cols)}) "
                       f"VALUES ({', '.join('?' for _ in cols)})", values)
    return int(cur.lastrowid)


class VLMRepo:
    db: Database

    # -- endpoints --------------------------------------------------------------------------
    def add_endpoint(self, name: str, base_url: str, model: str = "",
                     api_key_env: str = "") -> int:
        name, base_url = (name or "").strip(), (base_url or "").strip()
        if not name or not base_url.startswith(("http://", "https://")):
            raise StoreError("An endpoint needs a name and an http(s):// base URL")
        from ..vlm.openai_http import redact  # noqa: PLC0415

        if redact(base_url) != base_url or "@" in base_url.split("://", 1)[1].split("/", 1)[0]:
            raise StoreError(f"The URL {redact(base_url)} holds credentials, which are never "
                             "saved; put the key in an environment variable and save its name "
                             "(--api-key-env)")
        with self.db.write() as conn:
            conn.execute("INSERT INTO endpoints(name, base_url, model, api_key_env) "
                         "VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
                         "base_url=excluded.base_url, model=excluded.model, "
                         "api_key_env=excluded.api_key_env",
                         (name, base_url, model or "", api_key_env or ""))
            return conn.execute("SELECT id FROM endpoints WHERE name=?", (name,)).fetchone()[0]

    def endpoints(self) -> list[dict]:
        return [dict(r) for r in self.db.query("SELECT * FROM endpoints ORDER BY name")]

    def endpoint(self, name: str) -> Optional[dict]:
        rows = self.db.query("SELECT * FROM endpoints WHERE name=?", (name,))
        return dict(rows[0]) if rows else None

    def remove_endpoint(self, name: str) -> bool:
        with self.db.write() as conn:
            return conn.execute("DELETE FROM endpoints WHERE name=?", (name,)).rowcount > 0

    # -- answers ------------------------------------------------------------------------------
    def save_answer(self, record: dict) -> int:
        with self.db.write() as conn:
            return _insert(conn, "model_answers", record, ANSWER_COLUMNS)

    def save_answers(self, records) -> int:
        """Insert many answers in one transaction; returns how many."""
        n = 0
        with self.db.write() as conn:
            for record in records:
                _insert(conn, "model_answers", record, ANSWER_COLUMNS)
                n += 1
        return n

    def answer(self, answer_id: int) -> Optional[dict]:
        rows = self.db.query("SELECT * FROM model_answers WHERE id=?", (answer_id,))
        return _decode(rows[0]) if rows else None

    def answers(self, video: Optional[str] = None, limit: int = 500) -> list[dict]:
        sql, params = "SELECT * FROM model_answers", []
        if video is not None:
            sql, params = sql + " WHERE video=?", [video]
        rows = self.db.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [_decode(r) for r in rows]

    def delete_answer(self, answer_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM model_answers WHERE id=?", (answer_id,))

    # -- comparisons --------------------------------------------------------------------------
    def save_comparison(self, comparison: dict, answers: list[dict]) -> int:
        """One transaction: the comparison row and all its answers (or nothing)."""
        with self.db.write() as conn:
            cid = _insert(conn, "comparisons", comparison, COMPARISON_COLUMNS)
            for pos, answer in enumerate(answers):
                _insert(conn, "model_answers", dict(answer, comparison_id=cid, position=pos),
                        ANSWER_COLUMNS)
            return cid

    def comparisons(self, limit: int = 200) -> list[dict]:
        rows = self.db.query("SELECT c.*, COUNT(a.id) AS n_answers FROM comparisons c "
                             "LEFT JOIN model_answers a ON a.comparison_id = c.id "
                             "GROUP BY c.id ORDER BY c.id DESC LIMIT ?", (limit,))
        return [_decode(r) for r in rows]

    def comparison(self, comparison_id: int) -> Optional[dict]:
        rows = self.db.query("SELECT * FROM comparisons WHERE id=?", (comparison_id,))
        if not rows:
            return None
        out = _decode(rows[0])
        out["answers"] = [_decode(r) for r in self.db.query(
            "SELECT * FROM model_answers WHERE comparison_id=? ORDER BY position",
            (comparison_id,))]
        return out

    def delete_comparison(self, comparison_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM comparisons WHERE id=?", (comparison_id,))
