"""The declared landscape: systems, roles, owners, vendors, data leaders, exceptions, edges.

Spans tell which component called what; they cannot tell who owns a table, which host is a
vendor, or which system leads an entity. The landscape file (TOML, ``seamscope.toml``) says so;
docs/landscape.md documents it. Every error names the file, the key and the line.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seamscope.classifiers.mechanisms import MECHANISM, RESOURCES
from seamscope.classifiers.results import NO_SYSTEM
from seamscope.tracer.discover import EVENTBRIDGE_RULE, ROUTE_KINDS, Route
from seamscope.tracer.errors import SeamscopeError

DEFAULT_LANDSCAPE = "seamscope.toml"
ROLES = ("webapp", "bff", "backend", "worker", "job")
OWNED_KINDS = tuple(dict.fromkeys(r.owners for r in RESOURCES))
_TOP_KEYS = ("systems", "owners", "vendors", "data_leaders", "exceptions", "edges", "routes")
_ROUTE_KEYS = (
    "kind",
    "source",
    "target",
    "name",
    "event_sources",
    "detail_types",
    "account",
    "region",
)


class LandscapeError(SeamscopeError):
    """The landscape file is missing, malformed or says something impossible."""


@dataclass(frozen=True, slots=True)
class Vendor:
    name: str
    hosts: tuple[str, ...] = ()
    event_sources: tuple[str, ...] = ()
    components: tuple[str, ...] = ()

    def matches_host(self, host: str, port: int | None) -> bool:
        candidates = [host.lower()]
        if port is not None:
            candidates.append(f"{host.lower()}:{port}")
        return any(fnmatch.fnmatchcase(c, p.lower()) for p in self.hosts for c in candidates)

    def matches_source(self, source: str) -> bool:
        return any(fnmatch.fnmatchcase(source, p) for p in self.event_sources)


@dataclass(frozen=True, slots=True)
class DataLeader:
    system: str
    entities: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    event_sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeclaredEdge:
    source: str
    target: str
    mechanism: str | None
    line: int


@dataclass(frozen=True, slots=True)
class Landscape:
    """What the landscape file declares; an empty Landscape means: infer everything."""

    path: str | None = None
    # component name -> (system, role or None)
    components: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    systems: tuple[str, ...] = ()
    # kind ("tables", "queues", ...) -> resource name -> owning system
    owners: dict[str, dict[str, str]] = field(default_factory=dict)
    vendors: tuple[Vendor, ...] = ()
    leaders: tuple[DataLeader, ...] = ()
    rest_allowed_webapps: frozenset[str] = frozenset()
    declared_edges: tuple[DeclaredEdge, ...] = ()
    # Where the file names a system: (dotted key, system, line), for errors that name the line.
    system_refs: tuple[tuple[str, str, int], ...] = field(default=(), compare=False)
    # The account's wiring declared by hand ([[routes]]), as `seamscope discover aws` stores it.
    routes: tuple[Route, ...] = ()

    @property
    def declared(self) -> bool:
        return self.path is not None

    def fingerprint(self) -> str:
        """Changes whenever anything classification reads from the file changes."""
        data = {
            "components": sorted((k, list(v)) for k, v in self.components.items()),
            "systems": list(self.systems),
            "owners": {k: sorted(v.items()) for k, v in sorted(self.owners.items())},
            "vendors": [
                [v.name, list(v.hosts), list(v.event_sources), list(v.components)]
                for v in self.vendors
            ],
            "leaders": [
                [d.system, list(d.entities), list(d.tables), list(d.event_sources)]
                for d in self.leaders
            ],
            "rest": sorted(self.rest_allowed_webapps),
            "routes": [r.to_json() for r in self.routes],
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def check_systems(self, observed: Iterable[str]) -> None:
        """Raises LandscapeError (file:line) for an owner or data leader naming a system that
        exists nowhere: not declared in [systems], not a vendor, and in no span. Without spans
        there is nothing to compare with yet (a live store starts empty)."""
        seen = {name for name in observed if name}
        if not seen or not self.system_refs:
            return
        known = seen | set(self.systems) | {s for s, _ in self.components.values()}
        known |= {v.name for v in self.vendors}
        for key, system, line in self.system_refs:
            if system not in known:
                raise LandscapeError(
                    f"{self.path}:{line}: {key}: names system {system!r}, which is neither "
                    "declared in [systems] nor seen in any span (a typo?)"
                )

    def owner(self, kind: str, name: str) -> str | None:
        return self.owners.get(kind, {}).get(name)

    def vendor_for_host(self, host: str, port: int | None) -> Vendor | None:
        for vendor in self.vendors:
            if vendor.matches_host(host, port):
                return vendor
        return None

    def vendor_for_source(self, source: str) -> Vendor | None:
        for vendor in self.vendors:
            if vendor.matches_source(source):
                return vendor
        return None

    def vendor_for_component(self, component: str) -> Vendor | None:
        for vendor in self.vendors:
            if component in vendor.components:
                return vendor
        return None


@functools.lru_cache(maxsize=8192)
def entity_of(name: str) -> str:
    """Table or entity name -> a comparable singular lowercase word ('Orders' -> 'order').

    Cached: every classification asks it for the same few names thousands of times.
    """
    word = re.sub(r"[^a-z0-9]", "", name.lower())
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


class _Lines:
    """Finds the line of a key in the TOML text (tomllib reports none for valid documents)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, path: tuple[str | int, ...]) -> int:
        if len(path) >= 2 and isinstance(path[1], int) and isinstance(path[0], str):
            # An item of an array of tables: its [[header]], then the key below it.
            array = re.compile(r"^\s*\[\[\s*" + re.escape(path[0]) + r"\s*\]\]")
            starts = [i for i, line in enumerate(self.lines) if array.match(line)]
            if path[1] < len(starts):
                start = starts[path[1]]
                rest = [str(p) for p in path[2:] if not isinstance(p, int)]
                if rest:
                    key_re = re.compile(r'^\s*"?' + re.escape(rest[-1]) + r'"?\s*=')
                    for i in range(start, len(self.lines)):
                        if i > start and array.match(self.lines[i]):
                            break
                        if key_re.search(self.lines[i]):
                            return i + 1
                return start + 1
        keys = [str(p) for p in path if not isinstance(p, int)]
        if not keys:
            return 1
        start = 0
        # Narrow down to the deepest table header that names a prefix of the path.
        for depth in range(len(keys), 0, -1):
            header = ".".join(keys[:depth])
            pattern = re.compile(r"^\s*\[\[?\s*" + re.escape(header).replace(r"\.", r"\s*\.\s*"))
            for i, line in enumerate(self.lines):
                if pattern.match(line.replace('"', "")):
                    start = i
                    if depth == len(keys):
                        return i + 1
                    break
            if start:
                break
        last = keys[-1]
        key_re = re.compile(r'(^|[\s{,])"?' + re.escape(last) + r'"?\s*=')
        for i in range(start, len(self.lines)):
            if key_re.search(self.lines[i]):
                return i + 1
        for i, line in enumerate(self.lines):
            if last in line:
                return i + 1
        return start + 1


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _Lines(text)

    def fail(self, key: tuple[str | int, ...], message: str) -> LandscapeError:
        dotted = ".".join(str(k) if not isinstance(k, int) else f"[{k}]" for k in key)
        dotted = dotted.replace(".[", "[")
        return LandscapeError(f"{self.path}:{self.lines.find(key)}: {dotted}: {message}")

    def table(self, value: Any, key: tuple[str | int, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_toml_kind(value)}")
        return value

    def string(self, value: Any, key: tuple[str | int, ...]) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a non-empty string, got {_toml_kind(value)}")
        if not value.strip():
            raise self.fail(key, "expected a non-empty string")
        return value

    def system(self, name: Any, key: tuple[str | int, ...]) -> str:
        """A system's name: a non-empty string, and not the group of no known system's."""
        system = self.string(name, key)
        if system == NO_SYSTEM:
            raise self.fail(
                key,
                f"{NO_SYSTEM!r} is the name seamscope shows for components of no known system; "
                "name the system otherwise",
            )
        return system

    def strings(self, value: Any, key: tuple[str | int, ...]) -> tuple[str, ...]:
        if isinstance(value, str):
            return (self.string(value, key),)
        if not isinstance(value, list):
            raise self.fail(key, f"expected an array of strings, got {_toml_kind(value)}")
        return tuple(self.string(v, (*key, i)) for i, v in enumerate(value))

    def only(
        self, data: dict[str, Any], allowed: tuple[str, ...], key: tuple[str | int, ...]
    ) -> None:
        for name in data:
            if name not in allowed:
                raise self.fail(
                    (*key, name), f"unknown key (expected one of: {', '.join(allowed)})"
                )


def _toml_kind(value: Any) -> str:
    """What a value is, in TOML's words (a user wrote TOML, not Python)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


_TWICE = re.compile(r"Cannot declare \((?P<key>.*)\) twice")
_OVERWRITE = re.compile(r"Cannot overwrite a value|Duplicate inline table key '(?P<key>[^']*)'")
_HEADER = re.compile(r"^\s*\[\[?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGNED = re.compile(r'^\s*(?P<key>[A-Za-z0-9_."\' -]+?)\s*=')


def _dotted(parts: Iterable[str]) -> str:
    return ".".join(p.strip().strip("\"'") for p in parts)


def _key_set_at(text: str, line: int) -> str | None:
    """The dotted key that line (1-based) sets: its table's header and the key before '='."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None
    assigned = _ASSIGNED.match(lines[line - 1])
    if assigned is None:
        return None
    header = ""
    for above in reversed(lines[: line - 1]):
        found = _HEADER.match(above)
        if found:
            header = found.group("name")
            break
    return _dotted(
        [*header.split("."), *assigned.group("key").split(".")]
        if header
        else assigned.group("key").split(".")
    )


def _toml_problem(reason: str, text: str, line: int | None) -> str:
    """tomllib's words for a key given twice, as the file's key and what to do."""
    twice = _TWICE.search(reason)
    if twice:
        key = _dotted(re.findall(r"'([^']*)'", twice.group("key")))
        if key in ("edges", "routes"):
            return f"{key}: declared twice; write [[{key}]] for each of them"
        return f"{key}: declared twice; a TOML file has one [{key}] table: merge the two"
    overwrite = _OVERWRITE.search(reason)
    if overwrite and line is not None:
        set_at = _key_set_at(text, line)
        if overwrite.group("key"):
            inner = overwrite.group("key")
            set_at = f"{set_at}.{inner}" if set_at else inner
        if set_at:
            return f"{set_at}: set twice; a TOML file sets each key once: keep one"
    return f"not valid TOML: {reason}"


def load_landscape(path: Path) -> Landscape:
    """Reads and validates a landscape file; raises LandscapeError naming key and line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LandscapeError(f"{path}: no landscape file here") from None
    except OSError as exc:
        raise LandscapeError(f"{path}: cannot read the landscape file ({exc})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LandscapeError(
            f"{path}: the file is UTF-16 (as Windows PowerShell's > writes it); a TOML file is "
            "UTF-8: save it as UTF-8"
        )
    try:
        # utf-8-sig: editors on Windows (Notepad) begin a UTF-8 file with a byte order mark,
        # which TOML's grammar has no place for ("Invalid statement" at line 1).
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LandscapeError(
            f"{path}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x}, as Latin-1 or Windows-1252 "
            "write an accented letter); a TOML file is UTF-8: save it as UTF-8"
        ) from None
    return parse_landscape(text, path)


def parse_landscape(text: str, path: Path) -> Landscape:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        where = f":{match.group(1)}" if match else ""
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        line = int(match.group(1)) if match else None
        raise LandscapeError(f"{path}{where}: {_toml_problem(reason, text, line)}") from None
    except RecursionError:
        raise LandscapeError(f"{path}: not valid TOML: nested too deeply") from None
    r = _Reader(path, text)
    r.only(data, _TOP_KEYS, ())

    components: dict[str, tuple[str, str | None]] = {}
    systems: list[str] = []
    for system, body in r.table(data.get("systems", {}), ("systems",)).items():
        key: tuple[str | int, ...] = ("systems", system)
        r.system(system, key)
        body = r.table(body, key)
        r.only(body, ("components", "description"), ("systems", system))
        systems.append(system)
        comps = body.get("components", {})
        pairs: list[tuple[str, str | None, tuple[str | int, ...]]] = []
        if not isinstance(comps, list | dict):
            raise r.fail(
                (*key, "components"),
                'expected a table of component = role ({ orders-api = "backend" }) or an '
                f'array of component names (["orders-api"]), got {_toml_kind(comps)}',
            )
        if isinstance(comps, list):
            for i, name in enumerate(comps):
                pairs.append((r.string(name, (*key, "components", i)), None, (*key, "components")))
        else:
            for name, role in r.table(comps, (*key, "components")).items():
                ckey = (*key, "components", name)
                role_s = r.string(role, ckey)
                if role_s not in ROLES:
                    raise r.fail(
                        ckey, f"unknown role {role_s!r} (expected one of: {', '.join(ROLES)})"
                    )
                pairs.append((name, role_s, ckey))
        for name, role_v, ckey in pairs:
            if name in components and components[name][0] != system:
                raise r.fail(
                    ckey, f"component {name!r} is already in system {components[name][0]!r}"
                )
            components[name] = (system, role_v)

    owners: dict[str, dict[str, str]] = {}
    refs: list[tuple[str, str, int]] = []
    for kind, mapping in r.table(data.get("owners", {}), ("owners",)).items():
        if kind not in OWNED_KINDS:
            raise r.fail(
                ("owners", kind), f"unknown key (expected one of: {', '.join(OWNED_KINDS)})"
            )
        owners[kind] = {
            name: r.system(system, ("owners", kind, name))
            for name, system in r.table(mapping, ("owners", kind)).items()
        }
        refs += [
            (f"owners.{kind}.{name}", system, r.lines.find(("owners", kind, name)))
            for name, system in owners[kind].items()
        ]

    vendors: list[Vendor] = []
    for name, body in r.table(data.get("vendors", {}), ("vendors",)).items():
        body = r.table(body, ("vendors", name))
        r.only(body, ("hosts", "event_sources", "components", "description"), ("vendors", name))
        vendor = Vendor(
            name=name,
            hosts=r.strings(body.get("hosts", []), ("vendors", name, "hosts")),
            event_sources=r.strings(
                body.get("event_sources", []), ("vendors", name, "event_sources")
            ),
            components=r.strings(body.get("components", []), ("vendors", name, "components")),
        )
        if not (vendor.hosts or vendor.event_sources or vendor.components):
            raise r.fail(("vendors", name), "a vendor needs hosts, event_sources or components")
        vendors.append(vendor)

    leaders: list[DataLeader] = []
    for system, body in r.table(data.get("data_leaders", {}), ("data_leaders",)).items():
        r.system(system, ("data_leaders", system))
        body = r.table(body, ("data_leaders", system))
        refs.append((f"data_leaders.{system}", system, r.lines.find(("data_leaders", system))))
        r.only(body, ("entities", "tables", "event_sources"), ("data_leaders", system))
        leaders.append(
            DataLeader(
                system=system,
                entities=r.strings(body.get("entities", []), ("data_leaders", system, "entities")),
                tables=r.strings(body.get("tables", []), ("data_leaders", system, "tables")),
                event_sources=r.strings(
                    body.get("event_sources", []), ("data_leaders", system, "event_sources")
                ),
            )
        )

    exceptions = r.table(data.get("exceptions", {}), ("exceptions",))
    r.only(exceptions, ("rest_allowed_webapps",), ("exceptions",))
    rest_allowed = r.strings(
        exceptions.get("rest_allowed_webapps", []), ("exceptions", "rest_allowed_webapps")
    )
    for name in rest_allowed:
        declared = components.get(name)
        if declared is not None and declared[1] not in (None, "webapp"):
            raise r.fail(
                ("exceptions", "rest_allowed_webapps"),
                f"{name!r} is declared as a {declared[1]}, not a webapp",
            )

    edges: list[DeclaredEdge] = []
    raw_edges = data.get("edges", [])
    if not isinstance(raw_edges, list):
        raise r.fail(("edges",), "expected an array of tables: [[edges]]")
    for i, body in enumerate(raw_edges):
        ekey: tuple[str | int, ...] = ("edges", i)
        body = r.table(body, ekey)
        for name in body:
            if name not in ("from", "to", "mechanism"):
                raise r.fail((*ekey, name), "unknown key (expected one of: from, to, mechanism)")
        if "from" not in body or "to" not in body:
            raise r.fail(ekey, "a declared edge needs 'from' and 'to'")
        mechanism = body.get("mechanism")
        if mechanism is not None:
            mechanism = r.string(mechanism, (*ekey, "mechanism"))
            if mechanism not in MECHANISM:
                raise r.fail(
                    (*ekey, "mechanism"),
                    f"unknown mechanism {mechanism!r} (expected one of: {', '.join(MECHANISM)})",
                )
        edges.append(
            DeclaredEdge(
                source=r.string(body["from"], (*ekey, "from")),
                target=r.string(body["to"], (*ekey, "to")),
                mechanism=mechanism,
                line=_edge_line(r.lines, i),
            )
        )

    return Landscape(
        routes=_routes(r, data.get("routes", [])),
        path=str(path),
        components=components,
        systems=tuple(systems),
        owners=owners,
        vendors=tuple(vendors),
        leaders=tuple(leaders),
        rest_allowed_webapps=frozenset(rest_allowed),
        declared_edges=tuple(edges),
        system_refs=tuple(refs),
    )


def _routes(r: _Reader, raw: Any) -> tuple[Route, ...]:
    """[[routes]]: the wiring declared by hand, checked as `seamscope discover aws` checks what
    it reads (tracer/discover.py ROUTE_KINDS)."""
    if not isinstance(raw, list):
        raise r.fail(("routes",), "expected an array of tables: [[routes]]")
    routes: list[Route] = []
    for i, body in enumerate(raw):
        key: tuple[str | int, ...] = ("routes", i)
        body = r.table(body, key)
        r.only(body, _ROUTE_KEYS, key)
        for needed in ("kind", "source", "target"):
            if needed not in body:
                raise r.fail(key, f"a route needs {needed!r}")
        kind = r.string(body["kind"], (*key, "kind"))
        if kind not in ROUTE_KINDS:
            raise r.fail(
                (*key, "kind"), f"unknown kind {kind!r} (expected one of: {', '.join(ROUTE_KINDS)})"
            )
        lists: dict[str, tuple[str, ...] | None] = {}
        for field_name in ("event_sources", "detail_types"):
            if field_name in body and kind != EVENTBRIDGE_RULE:
                raise r.fail(
                    (*key, field_name), f"only an {EVENTBRIDGE_RULE} route has {field_name}"
                )
            lists[field_name] = (
                r.strings(body[field_name], (*key, field_name)) if field_name in body else None
            )
        pattern = {
            k: list(v)
            for k, v in (("source", lists["event_sources"]), ("detail-type", lists["detail_types"]))
            if v is not None
        }
        route = Route(
            route_id=f"declared:{i + 1}",
            kind=kind,
            source=r.string(body["source"], (*key, "source")),
            target=r.string(body["target"], (*key, "target")),
            event_sources=lists["event_sources"],
            detail_types=lists["detail_types"],
            name=r.string(body["name"], (*key, "name")) if "name" in body else None,
            pattern=json.dumps(pattern) if pattern else None,
            origin="declared",
            account=r.string(body["account"], (*key, "account")) if "account" in body else None,
            region=r.string(body["region"], (*key, "region")) if "region" in body else None,
            discovered_at=None,
        )
        for end in ("source", "target"):
            allowed = ROUTE_KINDS[kind][0 if end == "source" else 1]
            value = getattr(route, end)
            if not any(value.startswith(p) and len(value) > len(p) for p in allowed):
                what = "leave from" if end == "source" else "target"
                raise r.fail(
                    (*key, end),
                    f"{value!r} is not a node id {kind} may {what} "
                    f"({', '.join(p + '<name>' for p in allowed)})",
                )
        routes.append(route)
    return tuple(routes)


def _edge_line(lines: _Lines, index: int) -> int:
    seen = -1
    for i, line in enumerate(lines.lines):
        if re.match(r"^\s*\[\[\s*edges\s*\]\]", line):
            seen += 1
            if seen == index:
                return i + 1
    return 1


def resolve_landscape(path: Path | None, *, default_dir: Path | None = None) -> Landscape | None:
    """The file named, else ./seamscope.toml when it exists, else None (infer everything)."""
    if path is not None:
        return load_landscape(path)
    candidate = (default_dir or Path.cwd()) / DEFAULT_LANDSCAPE
    if candidate.is_file():
        return load_landscape(candidate)
    return None
