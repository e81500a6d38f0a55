"""Reads: single objects, label/field selectors, and lists with ``limit``/``continue``."""

from __future__ import annotations

import base64
import json
from typing import Any

from .. import kube
from .errors import ApiError
from .objects import Entry, Objects, encode
from .resource_types import ResourceType


class Reads(Objects):
    """Reads of single objects and of lists."""

    def get(
        self, rtype: ResourceType | str, namespace: str, name: str, *, copy_: bool = True
    ) -> dict[str, Any]:
        """The object, or ApiError 404."""
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        with self.lock:
            entry = self._entry(rt, namespace, name)
            if entry is None:
                raise self.not_found(rt, name)
            return kube.clone(entry.obj) if copy_ else entry.obj

    def try_get(
        self, rtype: ResourceType | str, namespace: str, name: str, *, copy_: bool = True
    ) -> dict[str, Any] | None:
        try:
            return self.get(rtype, namespace, name, copy_=copy_)
        except ApiError:
            return None

    def get_raw(self, rtype: ResourceType, namespace: str, name: str, version: str) -> bytes:
        with self.lock:
            entry = self._entry(rtype, namespace, name)
            if entry is None:
                raise self.not_found(rtype, name)
            return encode(rtype.kind, rtype.api_version(version), entry.tail)

    def by_uid(self, uid: str) -> dict[str, Any] | None:
        with self.lock:
            where = self._by_uid.get(uid)
            if where is None:
                return None
            entry = self._objects[where[0]].get((where[1], where[2]))
            return entry.obj if entry else None

    def field_aliases(self, rtype: ResourceType) -> dict[str, str]:
        return {"source": "source.component"} if rtype.plural == "events" else {}

    def check_field_selector(
        self, rtype: ResourceType, selector: list[tuple[str, str, str]]
    ) -> None:
        allowed = {"metadata.name", "metadata.namespace", *rtype.field_labels}
        for field_name, _, _ in selector:
            if field_name not in allowed:
                raise ApiError(400, "BadRequest", f"field label not supported: {field_name}")

    def select(
        self,
        rtype: ResourceType | str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Matching objects (shared, do not modify), sorted by namespace and name."""
        items, _ = self.list_objects(rtype, namespace, label_selector, field_selector, copy_=False)
        return items

    def list_objects(
        self,
        rtype: ResourceType | str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        copy_: bool = True,
    ) -> tuple[list[dict[str, Any]], int]:
        """(objects, resourceVersion of the list)."""
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        entries, rv = self._select(rt, namespace, label_selector, field_selector)
        objs = [e.obj for _, e in entries]
        return ([kube.clone(o) for o in objs] if copy_ else objs), rv

    def _select(
        self,
        rtype: ResourceType,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        start_after: tuple[str, str] | None = None,
    ) -> tuple[list[tuple[tuple[str, str], Entry]], int]:
        try:
            labels = kube.parse_label_selector(label_selector)
            fields = kube.parse_field_selector(field_selector)
        except kube.SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        self.check_field_selector(rtype, fields)
        aliases = self.field_aliases(rtype)
        with self.lock:
            bucket = self._objects[rtype.key]
            keys = sorted(bucket)
            out = []
            for key in keys:
                if namespace and rtype.namespaced and key[0] != namespace:
                    continue
                if start_after is not None and key <= start_after:
                    continue
                entry = bucket[key]
                meta = entry.obj.get("metadata") or {}
                if labels and not kube.labels_match(labels, meta.get("labels")):
                    continue
                if fields and not kube.fields_match(fields, entry.obj, aliases):
                    continue
                out.append((key, entry))
            return out, self.rv

    def list_raw(
        self,
        rtype: ResourceType,
        version: str,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> bytes:
        """The JSON body of a list response (with ``limit``/``continue`` pagination)."""
        start_after = None
        list_rv = None
        if continue_token:
            try:
                token = json.loads(base64.urlsafe_b64decode(continue_token.encode()).decode())
                start_after = (token["start"][0], token["start"][1])
                list_rv = int(token["rv"])
            except (ValueError, KeyError, TypeError, IndexError):
                raise ApiError(
                    400, "BadRequest", "continue key is not valid: illegal base64 data"
                ) from None
            if list_rv < self.compacted_rv:
                raise ApiError(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. "
                    "You can start a new list without the continue parameter, or use the continue "
                    "token in this response to retrieve the remainder of the results. Continuing "
                    "with the provided token results in an inconsistent list - objects that were "
                    "created, modified, or deleted between the time the first chunk was returned "
                    "and now may show up in the list.",
                )
        with self.lock:
            entries, rv = self._select(
                rtype, namespace, label_selector, field_selector, start_after
            )
            meta: dict[str, Any] = {"resourceVersion": str(list_rv or rv)}
            if limit and len(entries) > limit:
                remaining = len(entries) - limit
                entries = entries[:limit]
                last = entries[-1][0]
                token = {"rv": list_rv or rv, "start": [last[0], last[1]]}
                meta["continue"] = base64.urlsafe_b64encode(kube.dumps(token)).decode()
                meta["remainingItemCount"] = remaining
            api_version = rtype.api_version(version)
            if rtype.custom:
                items = [encode(rtype.kind, api_version, e.tail) for _, e in entries]
            else:
                # Items of built-in lists carry no kind/apiVersion, as a real server answers.
                items = [e.tail for _, e in entries]
        head = kube.dumps({"kind": rtype.list_kind, "apiVersion": api_version, "metadata": meta})
        return head[:-1] + b',"items":[' + b",".join(items) + b"]}"
