"""One thread owns the model: every request's model call runs there, one at a time, so the model is loaded
once per process and never used by two threads at once (the predictor's cache is not thread-safe).

Concurrent requests are not merged into one model call. Measured on this project's 2-core CPU with the
default model (one torch thread, 8 clients of one paragraph each): 13.5-13.7 requests/s one request at a
time against 12.9-13.3 merged, with a worse tail (p95 0.8-0.9 s against 1.1-1.2 s). On CPU a paragraph of
~100 tokens already fills the matrix products, and merging paragraphs of different lengths adds padding.
Figures in the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..moderator import Moderator
from ..results import ArticleResult, ParagraphResult


@dataclass
class _Job:
    method: str  # "classify" | "moderate"
    payload: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    submitted: float = field(default_factory=time.perf_counter)
    future: Future = field(default_factory=Future)
    #: The model in service when the request came: it answers, even if a reload swaps models meanwhile.
    moderator: Moderator | None = None


@dataclass
class RunStats:
    """Where a request's time went, for the request log, and the model that answered."""

    wait_ms: float
    model_ms: float
    moderator: Moderator | None = field(default=None, repr=False, compare=False)


class ReloadInProgress(RuntimeError):
    """A model reload was asked for while another one runs."""


class ModelRunner:
    """Runs a :class:`Moderator` on a dedicated thread; ``moderator`` may be a loader, called on that thread."""

    def __init__(
        self,
        moderator: Moderator | Callable[[], Moderator],
        *,
        batch_size: int = 32,
        on_load_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.moderator: Moderator | None = moderator if isinstance(moderator, Moderator) else None
        self._loader = None if self.moderator is not None else moderator
        self._on_load_error = on_load_error
        self.load_error: BaseException | None = None
        self.ready = threading.Event()
        #: When the model in service was loaded (epoch seconds).
        self.loaded_at: float | None = time.time() if self.moderator is not None else None
        self._reload_lock = threading.Lock()
        self._on_swap: list[Callable[[Moderator], None]] = []
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        if self.moderator is not None:  # loaded already: warm it up now, before any request can come
            self._warm_up()
        self._thread = threading.Thread(target=self._loop, name="modcls-model", daemon=True)
        self._thread.start()

    async def classify(
        self, texts: Sequence[str], contexts: Sequence[str | None] | None = None
    ) -> tuple[list[ParagraphResult], RunStats]:
        kwargs = {} if contexts is None else {"context": list(contexts)}
        return await self._submit(_Job("classify", list(texts), kwargs))

    async def moderate(self, text: str) -> tuple[ArticleResult, RunStats]:
        return await self._submit(_Job("moderate", text))

    def on_swap(self, callback: Callable[[Moderator], None]) -> None:
        """Call ``callback(new_moderator)`` after each reload swapped models."""
        self._on_swap.append(callback)

    def reload(self, loader: Callable[[], Moderator]) -> dict[str, Any]:
        """Load a model with ``loader`` beside the one in service, warm it up, then swap them atomically.

        Runs on the calling thread while the model thread goes on serving with the old model; requests
        submitted before the swap finish on the old model, later ones run on the new. Raises
        :class:`ReloadInProgress` if another reload runs, and whatever ``loader`` raises (the old model
        then stays in service).
        """
        if not self._reload_lock.acquire(blocking=False):
            raise ReloadInProgress("a model reload is already running")
        try:
            started = time.perf_counter()
            new = loader()
            new.classify(["Préchauffage du modèle."], batch_size=1)
            old, self.moderator = self.moderator, new  # one reference assignment: atomic for readers
            self.loaded_at = time.time()
            for callback in self._on_swap:
                callback(new)
            return {"previous": old.name if old is not None else None, "model_version": new.name,
                    "load_seconds": round(time.perf_counter() - started, 3)}
        finally:
            self._reload_lock.release()

    def close(self, timeout: float = 10.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)

    async def _submit(self, job: _Job) -> Any:
        if self.load_error is not None:
            raise RuntimeError("the model failed to load") from self.load_error
        job.moderator = self.moderator
        self._jobs.put(job)
        return await asyncio.wrap_future(job.future)

    # -- the model thread -------------------------------------------------------------------------
    def _loop(self) -> None:
        if self._loader is not None:
            try:
                self.moderator = self._loader()
            except BaseException as err:  # noqa: BLE001 - reported to the server, which stops
                self.load_error = err
                self._fail_waiting()
                if self._on_load_error:
                    self._on_load_error(err)
                return
            self.loaded_at = time.time()
            self._warm_up()
        while (job := self._jobs.get()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue
            started = time.perf_counter()
            moderator = job.moderator or self.moderator
            try:
                result = getattr(moderator, job.method)(job.payload, batch_size=self.batch_size, **job.kwargs)
            except BaseException as err:  # noqa: BLE001 - handed to the waiting request
                job.future.set_exception(err)
                continue
            done = time.perf_counter()
            stats = RunStats(round((started - job.submitted) * 1000, 2), round((done - started) * 1000, 2), moderator)
            job.future.set_result((result, stats))

    def _fail_waiting(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(RuntimeError("the model failed to load"))

    def _warm_up(self) -> None:
        """The first call pays one-off costs (allocations, lazy init): pay them before declaring ready."""
        with contextlib.suppress(Exception):  # a failing warm-up shows again, and is reported, on requests
            self.moderator.classify(["Préchauffage du modèle."], batch_size=1)
        self.ready.set()
