"""The official Python ``fal_client`` pointed elsewhere: its host globals, ``FAL_KEY``, and the state
each ``SyncClient`` and ``AsyncClient`` caches (credentials, HTTP client, CDN token manager).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import weakref
from collections.abc import Iterator
from typing import Protocol

from harness._errors import ConfigError

__all__ = ["FalClientRedirect", "fal_client_urls", "patch_fal_client"]


class _CachedProperty(Protocol):
    """A cached property of fal-client's (functools' or asyncstdlib's): it computes once and stores
    the value in the instance under ``attrname``."""

    attrname: str | None

    def __set_name__(self, owner: type, name: str) -> None: ...


class _Addresses(Protocol):
    @property
    def queue_url(self) -> str: ...

    @property
    def run_url(self) -> str: ...

    @property
    def key(self) -> str | None: ...


#: what each client caches on itself the first time it is used; the REST address of the CDN token
#: manager and the key in the HTTP client's headers are fixed at that moment
_CACHED = ("_auth", "_client", "_token_manager")
_generation = itertools.count(1)


def fal_client_urls(where: _Addresses) -> dict[str, str]:
    """The ``fal_client.client`` globals that hold a host, and the address each gets: the queue
    (``queue.fal.run``), the run API and its websockets (``fal.run``), REST (``rest.fal.ai``:
    storage and realtime tokens) and the CDN (``v3.fal.media``). An emulator serves REST and the
    CDN on its queue address; a :class:`~harness.Target` names them itself."""
    run = where.run_url.rstrip("/")
    ws_run = ("wss" if run.startswith("https:") else "ws") + run[run.index(":"):]
    rest = getattr(where, "rest_url", None) or where.queue_url
    cdn = getattr(where, "cdn_url", None) or where.queue_url
    return {"QUEUE_URL_FORMAT": where.queue_url.rstrip("/") + "/", "RUN_URL_FORMAT": run + "/",
            "REALTIME_URL_FORMAT": ws_run + "/", "REST_URL": rest.rstrip("/"), "CDN_URL": cdn.rstrip("/")}


@contextlib.contextmanager
def patch_fal_client(where: _Addresses, *, set_key: bool = True) -> Iterator[None]:
    """Point the official ``fal_client`` at ``where`` (an emulator or a target): every host it
    knows (queue, run, REST, CDN and the realtime websocket) and ``FAL_KEY`` unless ``set_key``
    is false; everything is restored on exit.

    Every client takes part, made before the block or inside it: the module functions
    (``fal_client.run``, ``submit``, ``stream``, ``realtime``...) and each ``SyncClient`` and
    ``AsyncClient``. Inside the block each one builds its credentials, HTTP client and CDN token
    manager afresh for these addresses; on exit it goes back to what it had cached before."""
    try:  # fal-client is the app's dependency, not the harness's
        import fal_client.client as fal
    except ImportError:
        raise ConfigError("fal-client is not installed (pip install fal-client)") from None
    urls = fal_client_urls(where)
    saved = {name: getattr(fal, name) for name in urls}
    saved_key = os.environ.get("FAL_KEY")
    for name, value in urls.items():
        setattr(fal, name, value)
    if set_key and where.key:
        os.environ["FAL_KEY"] = where.key
    redirect = FalClientRedirect(fal.SyncClient, fal.AsyncClient)
    try:
        with redirect:
            yield
    finally:
        for name, value in saved.items():
            setattr(fal, name, value)
        if set_key and where.key:
            if saved_key is None:
                os.environ.pop("FAL_KEY", None)
            else:
                os.environ["FAL_KEY"] = saved_key


class FalClientRedirect:
    """For the length of a ``with`` block, every instance of the given client classes keeps its
    cached state (``_auth``, ``_client``, ``_token_manager``) in a slot of this block's own, so
    clients made earlier start afresh and nothing built inside outlives the block.

    fal-client caches these with ``functools.cached_property`` (sync) and asyncstdlib's
    ``cached_property`` (async), both storing the value in the instance ``__dict__``. A data
    descriptor on the class takes precedence over the instance ``__dict__``, so the block installs
    one per name that delegates to a fresh cached property stored under another name."""

    def __init__(self, *classes: type) -> None:
        self._classes = classes
        self._slot = f"_fal_harness_redirect_{next(_generation)}"
        self._saved: list[tuple[type, str, object]] = []
        self._seen: dict[int, weakref.ref[object]] = {}

    def __enter__(self) -> FalClientRedirect:
        for cls in self._classes:
            for name in _CACHED:
                original = cls.__dict__.get(name)
                fresh = _fresh_copy(original, f"{self._slot}{name}", cls)
                if fresh is None:
                    continue  # a fal-client that caches differently: its host globals still apply
                self._saved.append((cls, name, original))
                setattr(cls, name, _Redirected(fresh, self._seen))
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)
        self._saved.clear()
        for ref in self._seen.values():
            instance = ref()
            if instance is None:
                continue
            for name in _CACHED:
                _close(instance.__dict__.pop(f"{self._slot}{name}", None))
        self._seen.clear()


class _Redirected:
    """A data descriptor standing in for one cached property while a redirect is active."""

    def __init__(self, fresh: _CachedProperty, seen: dict[int, weakref.ref[object]]) -> None:
        self._fresh = fresh
        self._name = str(fresh.attrname)  # named by __set_name__ before it gets here
        self._seen = seen

    def __get__(self, instance: object, owner: type | None = None) -> object:
        if instance is None:
            return self
        key = id(instance)
        if key not in self._seen:
            self._seen[key] = weakref.ref(instance, functools.partial(_forget, self._seen, key))
        got: object = type(self._fresh).__get__(self._fresh, instance, owner)  # type: ignore[attr-defined]
        return got

    def __set__(self, instance: object, value: object) -> None:
        instance.__dict__[self._name] = value

    def __delete__(self, instance: object) -> None:
        instance.__dict__.pop(self._name, None)


def _forget(seen: dict[int, weakref.ref[object]], key: int, _: object) -> None:
    seen.pop(key, None)


def _fresh_copy(original: object, slot: str, owner: type) -> _CachedProperty | None:
    """A new cached property computing what ``original`` computes, stored under ``slot``."""
    func = getattr(original, "func", None)
    fresh: _CachedProperty
    if isinstance(original, functools.cached_property):
        fresh = functools.cached_property(original.func)
    elif type(original).__module__.startswith("asyncstdlib") and callable(func):
        # asyncstdlib comes with fal-client, which the harness does not require
        from asyncstdlib import cached_property as async_cached_property

        fresh = async_cached_property(asyncio.Lock)(func)  # type: ignore[assignment]  # attrname: untyped there
    else:
        return None
    fresh.__set_name__(owner, slot)
    return fresh


def _close(value: object) -> None:
    # A synchronous HTTP client made inside the block is closed with it; an async one belongs to
    # an event loop that may be gone, and is left to the garbage collector.
    close = getattr(value, "close", None)
    if callable(close) and type(value).__name__ == "Client":
        close()
