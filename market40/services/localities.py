"""Load one province's official administrative units into a registry.

The units come from :mod:`market40.localities` (the GSO codes shipped with market40): the
province's commune-level units since 1 July 2025, its former district-level units (for history
and rollups) and the old→new links between them. Loading is idempotent: a unit already in the
registry is matched by code and kind and left alone (or corrected, if the shipped data renamed
it); running it again changes nothing and says so. Every unit created or corrected is audited.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from .. import formats, localities, messages
from ..exceptions import Forbidden
from ..models import Locality, LocalityLink
from .registry import Actor, Registry

__all__ = ["LoadReport", "load_province"]

_COMPARED = ("name", "unit_type", "province", "valid_to")


@dataclass
class LoadReport:
    """What one ``locality load`` did for one province."""

    province: localities.Province
    communes: int = 0
    districts: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    links_created: int = 0
    links_unchanged: int = 0
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.links_created)

    def summary(self, lang: str = "en") -> str:
        n = functools.partial(formats.count, lang=lang)
        head = messages.text("summary.localities", lang, province=self.province.label, communes=n(self.communes),
                             districts=n(self.districts), links=n(self.links_created + self.links_unchanged))
        if not self.changed:
            return head + messages.text("summary.localities.same", lang)
        return head + messages.text("summary.localities.changed", lang, created=n(self.created),
                                    updated=n(self.updated), unchanged=n(self.unchanged), links=n(self.links_created))

    def as_dict(self) -> dict[str, Any]:
        return {"province": self.province.as_dict(), "communes": self.communes, "districts": self.districts,
                "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "links_created": self.links_created, "links_unchanged": self.links_unchanged,
                "changed": self.changed, "changes": self.changes}


def load_province(session: Session, actor: Actor, province: str | int) -> LoadReport:
    """Add the province's units and links that the registry lacks (the caller commits).

    ``province``: a code (``22``) or a name (``"Quảng Ninh"``). Only the local operator and
    admins may load master data.
    """
    if actor.role not in ("operator", "admin"):
        raise Forbidden(f"{actor.role} accounts cannot load administrative units")
    found = localities.province(province)
    report = LoadReport(found)
    registry = Registry(session, actor)
    wanted = localities.units(province=found.code, former=True) + localities.units(province=found.code)
    existing: dict[tuple[str, str], Locality] = {}
    for row in session.exec(select(Locality).where(
            Locality.code.in_([u.code for u in wanted])).order_by(Locality.valid_from)).all():  # type: ignore[attr-defined]
        existing[(row.code, row.kind)] = row  # the latest version of each unit wins
    ids: dict[str, int] = {}
    for unit in wanted:
        if unit.kind == "district":
            report.districts += 1
        else:
            report.communes += 1
        values = {"name": unit.name, "unit_type": unit.unit_type, "province": unit.province_name,
                  "valid_to": unit.valid_to}
        row = existing.get((unit.code, unit.kind))
        if row is None:
            row = registry.add_locality(code=unit.code, name=unit.name, kind=unit.kind, unit_type=unit.unit_type,
                                        province=unit.province_name,
                                        valid_from=unit.valid_from or localities.FORMER_SINCE,
                                        valid_to=unit.valid_to)
            report.created += 1
        else:
            before = {k: getattr(row, k) for k in _COMPARED if getattr(row, k) != values[k]}
            if before:
                for key in before:
                    setattr(row, key, values[key])
                session.add(row)
                registry.audit("locality.update", "locality", row.id, before=before,
                               after={k: values[k] for k in before}, note="official data (market40 locality load)")
                report.updated += 1
                report.changes.append(f"{unit.code} {unit.name}: " + ", ".join(
                    f"{k} {before[k]!r} → {values[k]!r}" for k in before))
            else:
                report.unchanged += 1
        assert row.id is not None
        ids[unit.code] = row.id
    session.flush()
    present = set(session.exec(select(LocalityLink.old_id, LocalityLink.new_id).where(
        LocalityLink.new_id.in_(list(ids.values())))).all())  # type: ignore[attr-defined]
    for old, new in localities.links(province=found.code):
        pair = (ids[old], ids[new])
        if pair in present:
            report.links_unchanged += 1
        else:
            session.add(LocalityLink(old_id=pair[0], new_id=pair[1]))
            report.links_created += 1
    if report.changed:
        registry.audit("locality.load", "province", found.code, after={
            "created": report.created, "updated": report.updated, "links_created": report.links_created,
            "sources": [f"{s['package']} {s['version']}" for s in localities.sources()]})
    session.flush()
    return report
