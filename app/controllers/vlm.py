"""VLM controller: backend choices, Ask / Compare runs on the model worker, saving.

One per AppContext (``vlm_controller(ctx)``), shared by the Ask panel and the Compare
view. Runs go to ``ctx.jobs`` with ``kind="model"`` on the lane of the resource they use
(``app.jobs.lane_for``: one per local device, one per server URL), so loading and
generation on one device never overlap while a server answers beside them. Every run
has a request id; chunks and results of an older run are dropped. Views connect to the
signals and call the intents; no rule lives in them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from PySide6.QtCore import QObject, Signal

from models.errors import StudioError
from models.vlm.service import Answer, AskSpec, Prepared, compare, prepare
from models.vlm.specs import BackendChoice, make_backend, parse_model


RULE = BackendChoice("rule", {"label": "Rule-based describer"})
ADDED_KEY = "vlm.added_models"   # user setting: what the user added (folders, ids, URLs)
DEVICE_KEY = "vlm.device"        # user setting: where local models run (auto, cpu, cuda ...)


def _holds_credentials(url: str) -> bool:
    from models.vlm.openai_http import redact  # noqa: PLC0415

    return redact(url) != url or "@" in url.split("://", 1)[-1].split("/", 1)[0]


# Partial events of a run, sent from the model worker to the GUI thread in order.
@dataclass(frozen=True)
class PreparedEvent:
    prepared: Prepared                     # the frames and prompt every backend answers


@dataclass(frozen=True)
class ChunkEvent:
    pos: int                               # the backend's column
    text: str                              # the answer so far


@dataclass(frozen=True)
class AnswerEvent:
    pos: int
    answer: Answer


def _key(choice: BackendChoice) -> str:
    return choice.kind + json.dumps(choice.settings, sort_keys=True, default=str)


def _target(choice: BackendChoice) -> tuple:
    """What a choice runs (a found model the user also added is listed once)."""
    s = choice.settings
    return (choice.kind, s.get("model"), s.get("base_url"))


def _discover_job(folders, endpoints, ctx=None) -> list[BackendChoice]:
    from models.vlm.discovery import discover  # noqa: PLC0415

    out = []
    for e in discover(folders):
        if e["runnable"]:
            name = e.get("label") or e["spec"].split("/")[-1]
            out.append(BackendChoice("transformers", {"model": e["spec"], "label":
                                     f"{name} ({e['family_label']})"}))
    for ep in endpoints:
        out.append(BackendChoice("openai", {"base_url": ep["base_url"], "model": ep["model"],
                                            "api_key_env": ep["api_key_env"],
                                            "label": f"{ep['name']} (server)",
                                            "endpoint": ep["name"]}))
    return out


def _run_job(choices, backends, spec: AskSpec, track, frames, ctx=None):
    """On the model worker: sample frames once, then every backend in turn."""
    prepared = prepare(spec, track=track, frames=frames)
    ctx.partial(PreparedEvent(prepared))
    made = [backends.get(_key(c)) or make_backend(c, track=track) for c in choices]
    for c, b in zip(choices, made):
        backends[_key(c)] = b
        if c.kind == "rule":
            b.track = track
    answers = compare(made, prepared, ctx,
                      on_chunk=lambda pos, text: ctx.partial(ChunkEvent(pos, text)),
                      on_answer=lambda pos, a: ctx.partial(AnswerEvent(pos, a)))
    return prepared, answers


class VLMController(QObject):
    choicesChanged = Signal()
    started = Signal(int, int)            # request id, number of backends
    prepared = Signal(int, object)        # request id, Prepared (frames + prompt)
    chunk = Signal(int, int, str)         # request id, column, text
    answerReady = Signal(int, int, object)  # request id, column, Answer
    finished = Signal(int, object)        # request id, list[Answer]
    failed = Signal(int, str)             # request id, one-line message
    progress = Signal(int, str)           # request id, message
    saved = Signal(str, int)              # "answer" | "comparison", row id

    def __init__(self, ctx, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.choices: list[BackendChoice] = [RULE]
        self._backends: dict = {}          # choice key -> backend (keeps models resident)
        self._rid = 0
        self._discovery_gen = 0
        self._handle = None
        self.last: Optional[tuple[Prepared, list[Answer]]] = None
        self.last_saved: Optional[tuple[str, int]] = None
        self._restore_added()

    # -- choices ----------------------------------------------------------------------------
    def refresh_choices(self) -> None:
        from models.vlm.discovery import user_folders  # noqa: PLC0415

        self._discovery_gen += 1
        gen = self._discovery_gen
        self.ctx.jobs.submit(_discover_job, user_folders(self.ctx.repo), self.ctx.repo.endpoints(),
                             kind="cpu", on_result=lambda found: self._set_discovered(gen, found),
                             on_error=lambda e: self.ctx.message(str(e)))

    def _set_discovered(self, gen: int, found: list[BackendChoice]) -> None:
        if gen != self._discovery_gen:
            return                                   # an older scan: a newer one is running
        keep = [c for c in self.choices if c.settings.get("added")]
        kept = {_target(k) for k in keep}
        self.choices = [RULE] + keep + [c for c in found if _target(c) not in kept]
        self.choicesChanged.emit()

    def add_choice(self, spec: str, remember: bool = True, **local_opts) -> BackendChoice:
        """Add a folder / cache id / URL typed by the user (validated lazily on load).
        It is remembered in the user settings (next start lists it again); a URL with a
        key or password in it is refused: keys live in environment variables only."""
        spec = (spec or "").strip()
        choice = parse_model(spec, self.ctx.repo, **local_opts)
        if choice.kind == "openai" and _holds_credentials(choice.settings["base_url"]):
            raise StudioError("This URL holds credentials, which are never saved; put the key "
                              "in an environment variable (File > Preferences > servers)")
        choice.settings.setdefault("label", spec if choice.kind != "openai" else choice.label)
        choice.settings["added"] = True
        if _key(choice) not in {_key(c) for c in self.choices}:
            self.choices.append(choice)
            self.choicesChanged.emit()
        if remember and choice.kind != "rule":
            added = self.added_specs()
            if spec not in added:
                self.ctx.settings.set(ADDED_KEY, added + [spec])
        return choice

    def added_specs(self) -> list[str]:
        items = self.ctx.settings.get(ADDED_KEY) or []
        return [s for s in items if isinstance(s, str) and s.strip()]

    def forget_choice(self, choice: BackendChoice) -> bool:
        """Remove a model the user added (from the list and the settings)."""
        if not choice.settings.get("added"):
            return False
        target = _target(choice)
        kept = []
        for spec in self.added_specs():
            try:
                if _target(parse_model(spec, self.ctx.repo)) == target:
                    continue
            except StudioError:
                pass
            kept.append(spec)
        self.ctx.settings.set(ADDED_KEY, kept)
        self.choices = [c for c in self.choices if _key(c) != _key(choice)]
        self.choicesChanged.emit()
        return True

    def _restore_added(self) -> None:
        for spec in self.added_specs():
            try:
                self.add_choice(spec, remember=False)
            except StudioError as exc:     # e.g. an endpoint deleted since: skip it
                self.ctx.message(f"Skipped a remembered model ({spec}): {exc}")

    def save_endpoint(self, url_spec: str, name: str = "", api_key_env: str = "") -> str:
        """Remember a server (``http://host:port/v1#model``) in the project; no key stored."""
        choice = parse_model(url_spec)
        if choice.kind != "openai":
            raise StudioError("Only http(s):// server URLs can be saved as endpoints")
        url, model = choice.settings["base_url"], choice.settings["model"]
        name = name or url.split("://", 1)[1].split("/", 1)[0]
        self.ctx.repo.add_endpoint(name, url, model, api_key_env)
        self.refresh_choices()
        return name

    def remove_endpoint(self, name: str) -> bool:
        removed = self.ctx.repo.remove_endpoint(name)
        self.refresh_choices()
        return removed

    def memory_hint(self, choice: Optional[BackendChoice]) -> str:
        """What a local checkpoint will need before it is loaded ("" for servers/rules)."""
        if choice is None or choice.kind != "transformers":
            return ""
        from models.vlm.checkpoint import memory_hint  # noqa: PLC0415
        from models.vlm.local import resolve_model  # noqa: PLC0415

        try:
            folder = resolve_model(choice.settings["model"])
        except StudioError as exc:
            return str(exc)
        return memory_hint(folder, bool(choice.settings.get("trust_remote_code")))

    # -- runs -------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._handle is not None and not self._handle.done

    def run(self, choices: list[BackendChoice], spec: AskSpec, frames=None) -> int:
        """Ask every chosen backend (1 = Ask, 2-4 = Compare); returns the request id."""
        self._cancel_quietly()
        self._rid += 1
        rid = self._rid
        device = self.ctx.settings.get(DEVICE_KEY) or "auto"
        clean = [BackendChoice(c.kind, {k: v for k, v in c.settings.items()
                                        if k not in ("added", "endpoint")})
                 for c in choices]
        for c in clean:
            if c.kind == "transformers" and device != "auto":
                c.settings.setdefault("device", device)
        track = self._track_for(spec.video)
        self.started.emit(rid, len(clean))
        from app.jobs import lane_for  # noqa: PLC0415

        self._handle = self.ctx.jobs.submit(
            _run_job, clean, self._backends, spec, track, frames, kind="model",
            lane=lane_for(clean),
            on_partial=lambda v: self._on_partial(rid, v),
            on_progress=lambda d, t, m: rid == self._rid and self.progress.emit(rid, m),
            on_result=lambda r: self._on_result(rid, r),
            on_error=lambda e: self._on_error(rid, e))
        return rid

    def _track_for(self, video: str):
        player = self.ctx.player
        return player.track if player.path and str(player.path) == str(video) else None

    def cancel(self) -> None:
        """Stop the current run; views hear ``failed(rid, "Cancelled …")`` at once (the
        model stops at its next token; a cancelled job delivers no result)."""
        if self._cancel_quietly():
            self.failed.emit(self._rid, "Cancelled by the user.")

    def _cancel_quietly(self) -> bool:
        if self._handle is not None and not self._handle.done:
            self._handle.cancel()
            return True
        return False

    def _on_partial(self, rid: int, event: PreparedEvent | ChunkEvent | AnswerEvent) -> None:
        if rid != self._rid:
            return                                   # stale: a newer run started
        if isinstance(event, ChunkEvent):
            self.chunk.emit(rid, event.pos, event.text)
        elif isinstance(event, AnswerEvent):
            self.answerReady.emit(rid, event.pos, event.answer)
        elif isinstance(event, PreparedEvent):
            self.prepared.emit(rid, event.prepared)

    def _on_result(self, rid: int, result) -> None:
        if rid != self._rid:
            return
        self.last = result
        self.last_saved = None
        self.finished.emit(rid, result[1])

    def _on_error(self, rid: int, exc: BaseException) -> None:
        if rid == self._rid:
            from app.jobs import one_line  # noqa: PLC0415

            self.failed.emit(rid, one_line(exc))

    def unload_all(self) -> None:
        for b in self._backends.values():
            b.unload()
        self._backends.clear()

    # -- store ------------------------------------------------------------------------------
    def save_last(self, title: str = "") -> tuple[str, int]:
        """Save the last run: one answer -> model_answers; several -> a comparison."""
        from models.vlm.service import save_answer, save_comparison  # noqa: PLC0415

        if self.last is None:
            raise StudioError("Nothing to save yet: ask a question first")
        if self.last_saved is not None:
            return self.last_saved
        prepared, answers = self.last
        if len(answers) == 1:
            self.last_saved = ("answer", save_answer(self.ctx.repo, prepared, answers[0]))
        else:
            self.last_saved = ("comparison", save_comparison(self.ctx.repo, prepared, answers, title))
        self.saved.emit(*self.last_saved)
        return self.last_saved

    def saved_comparisons(self) -> list[dict]:
        return self.ctx.repo.comparisons()

    def open_comparison(self, comparison_id: int) -> dict:
        rec = self.ctx.repo.comparison(comparison_id)
        if rec is None:
            raise StudioError(f"Comparison {comparison_id} no longer exists")
        return rec


def vlm_controller(ctx) -> VLMController:
    """The one VLM controller of ``ctx`` (``AppContext.vlm``)."""
    return ctx.vlm
