"""A container's environment and command, resolved the way the kubelet resolves them.

`$(VAR)` expansion, fieldRef values, Secret and ConfigMap references (env and
envFrom), and the argv: command+args or the image's known entrypoint, with the
command mapped to a local program where the command map says so.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

import httpx

from support.kubelet_api import POD_IP, Json, check


class ConfigError(Exception):
    """The container cannot be configured yet (missing Secret or key): the kubelet retries."""


# --- the container's environment and command, as the kubelet builds them -------------

_REFERENCE = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: `$$` escapes, unknown references stay as they are."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, text)


def field_value(pod: Json, path: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    keyed = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if keyed:
        return str((meta.get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": POD_IP,
        "status.hostIPs": POD_IP,
        "status.podIP": POD_IP,
        "status.podIPs": POD_IP,
    }
    if path not in simple:
        raise ConfigError(f"fieldRef {path!r} is not supported by the fake kubelet")
    return str(simple[path] or "")


class RefReader:
    """Reads the Secrets and ConfigMaps a container's env refers to (each once)."""

    KINDS: ClassVar[dict[str, str]] = {"secrets": "Secret", "configmaps": "ConfigMap"}

    def __init__(self, http: httpx.Client, namespace: str) -> None:
        self.http = http
        self.namespace = namespace
        self.cache: dict[tuple[str, str], dict[str, str] | None] = {}

    def data(self, plural: str, name: str, *, optional: bool) -> dict[str, str] | None:
        key = (plural, name)
        if key not in self.cache:
            response = self.http.get(f"/api/v1/namespaces/{self.namespace}/{plural}/{name}")
            if response.status_code == 404:
                self.cache[key] = None
            else:
                raw = check(response).json().get("data") or {}
                if plural == "secrets":
                    raw = {k: base64.b64decode(v).decode(errors="replace") for k, v in raw.items()}
                self.cache[key] = {str(k): str(v) for k, v in raw.items()}
        found = self.cache[key]
        if found is None and not optional:
            raise ConfigError(f'{self.KINDS[plural].lower()} "{name}" not found')
        return found

    def value(self, plural: str, ref: Json) -> str | None:
        optional = bool(ref.get("optional", False))
        data = self.data(plural, ref["name"], optional=optional)
        if data is None:
            return None
        if ref["key"] not in data:
            if optional:
                return None
            kind = self.KINDS[plural]
            raise ConfigError(
                f"couldn't find key {ref['key']} in {kind} {self.namespace}/{ref['name']}"
            )
        return data[ref["key"]]


def resolve_env(pod: Json, container: Json, refs: RefReader) -> dict[str, str]:
    """envFrom first, then env in order; `$(VAR)` in values sees the entries before it."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for plural, field in (("secrets", "secretRef"), ("configmaps", "configMapRef")):
            ref = source.get(field)
            if ref:
                data = refs.data(plural, ref["name"], optional=bool(ref.get("optional", False)))
                env.update({prefix + k: v for k, v in (data or {}).items()})
    for var in container.get("env") or []:
        name = var["name"]
        source = var.get("valueFrom")
        value: str | None
        if source is None:
            value = expand(var.get("value", ""), env)
        elif "secretKeyRef" in source:
            value = refs.value("secrets", source["secretKeyRef"])
        elif "configMapKeyRef" in source:
            value = refs.value("configmaps", source["configMapKeyRef"])
        elif "fieldRef" in source:
            value = field_value(pod, source["fieldRef"]["fieldPath"])
        else:
            raise ConfigError(f"env {name}: valueFrom {sorted(source)} is not supported")
        if value is not None:
            env[name] = value
    return env


def image_repository(image: str) -> str:
    """`reg:5000/a/b:tag@sha256:...` -> `reg:5000/a/b`."""
    image = image.split("@", 1)[0]
    head, _, last = image.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def container_argv(
    container: Json,
    env: Mapping[str, str],
    command_map: Mapping[str, Sequence[str]],
    image_entrypoints: Mapping[str, Sequence[str]],
) -> list[str]:
    command = [expand(part, env) for part in container.get("command") or []]
    args = [expand(part, env) for part in container.get("args") or []]
    if not command:
        image = container.get("image", "")
        repository = image_repository(image)
        entry = image_entrypoints.get(repository) or image_entrypoints.get(
            repository.rsplit("/", 1)[-1]
        )
        if entry is None:
            raise ConfigError(f"no command, and the entrypoint of image {image!r} is unknown")
        command = list(entry)
    head = command_map.get(command[0]) or command_map.get(os.path.basename(command[0]))
    return [*head, *command[1:], *args] if head is not None else [*command, *args]
