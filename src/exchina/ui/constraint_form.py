"""The constraints part of the methodology form, generated from the constraint registry
(``exchina.index.constraints.form_fields``: key, label, help) and the methodology schema (each
key's type and bounds), so a new constraint family appears in the app with no edit here.

A field's type picks its widget: a yes/no rule a checkbox, a choice a select box, a number a
number input (a fraction bounded by 1 in percent), a ``name -> [lower, upper]`` table an editable
grid in percent. An optional rule (``None`` = off) gets a checkbox outside the form, so its input
is disabled at once (a form reruns only on submit); switched on, it starts from the value a
shipped methodology uses, else its lower bound.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import streamlit as st

from exchina.index.constraints import FormField, form_fields
from exchina.index.methodology import Constraints, Methodology
from exchina.ui import data
from exchina.universe.rules import STAGES

PREFIX = "mf_"
ON = "on_"  # key prefix of an optional rule's checkbox
ROWS = {"stage_bounds": STAGES}  # tables that list every known row, bounded or not


@dataclass(frozen=True)
class Spec:
    """One form field with what the schema says about it."""

    field: FormField
    name: str  # the key under [constraints]
    kind: type | str  # bool, int, float, "choice", "bounds"
    optional: bool
    choices: tuple[str, ...] = ()
    lower: float | None = None
    upper: float | None = None

    @property
    def percent(self) -> bool:
        return self.kind is float and self.upper is not None and self.upper <= 1

    @property
    def label(self) -> str:
        return f"{self.field.label} %" if self.percent else self.field.label


def _spec(f: FormField) -> Spec:
    section, _, name = f.key.partition(".")
    if section != "constraints" or name not in Constraints.model_fields:
        raise KeyError(f"form field {f.key!r} is not a [constraints] key")
    info = Constraints.model_fields[name]
    ann = info.annotation
    args = typing.get_args(ann)
    optional = isinstance(ann, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else ann
    lower = upper = None
    for meta in info.metadata:  # pydantic's Field(ge=..., le=...) bounds
        for attr in ("ge", "gt"):
            if getattr(meta, attr, None) is not None:
                lower = float(getattr(meta, attr))
        for attr in ("le", "lt"):
            if getattr(meta, attr, None) is not None:
                upper = float(getattr(meta, attr))
    if typing.get_origin(base) is Literal:
        return Spec(f, name, "choice", optional, tuple(map(str, typing.get_args(base))))
    if typing.get_origin(base) is dict:
        return Spec(f, name, "bounds", optional)
    if base in (bool, int, float):
        return Spec(f, name, base, optional, (), lower, upper)  # type: ignore[arg-type]
    raise TypeError(f"no form widget for {f.key} ({ann})")


def specs() -> list[Spec]:
    """Every field of the constraint registry, with its schema."""
    return [_spec(f) for f in form_fields()]


def _start(s: Spec) -> Any:
    """Where an optional rule starts when switched on: a shipped methodology's value, else its
    lower bound (1 for a count)."""
    for text in data.shipped_texts().values():
        value = getattr(data.methodology(text).constraints, s.name)
        if value is not None:
            return value
    return max(s.lower or 0.0, 1.0) if s.kind is int else (s.lower or 0.0)


def switches(base: Methodology) -> dict[str, bool]:
    """The on/off checkboxes of the optional rules (drawn outside the form); name -> on."""
    optional = [s for s in specs() if s.optional]
    if not optional:
        return {}
    st.markdown("**Optional rules** (tick to use)")
    cols = st.columns(min(4, len(optional)))
    return {
        s.name: cols[i % len(cols)].checkbox(
            s.field.label,
            value=getattr(base.constraints, s.name) is not None,
            key=PREFIX + ON + s.name,
            help=s.field.help,
        )
        for i, s in enumerate(optional)
    }


def _bounds_frame(s: Spec, value: dict[str, tuple[float, float]]) -> pd.DataFrame:
    column = s.name.removesuffix("_bounds")
    rows = dict(value)
    for r in ROWS.get(s.name, ()):
        if not any(r in k.split("+") for k in rows):
            rows[r] = (0.0, 1.0)
    return pd.DataFrame(
        [(k, 100 * lo, 100 * hi) for k, (lo, hi) in rows.items()],
        columns=[column, "lower %", "upper %"],
    )


def _bounds_value(frame: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """An edited grid back to fractions, leaving out empty keys and the no-op ``[0, 100]``."""
    key = frame.columns[0]
    out = {}
    for _, r in frame.iterrows():
        name = str(r[key]).strip() if pd.notna(r[key]) else ""
        lo = float(r["lower %"]) if pd.notna(r["lower %"]) else 0.0
        hi = float(r["upper %"]) if pd.notna(r["upper %"]) else 100.0
        if name and (lo, hi) != (0.0, 100.0):
            out[name] = (lo / 100, hi / 100)
    return out


def _widget(s: Spec, value: Any, disabled: bool, where: Any) -> Any:
    key, help_ = PREFIX + s.name, s.field.help
    if s.kind is bool:
        return where.checkbox(s.label, value=bool(value), key=key, help=help_)
    if s.kind == "choice":
        index = s.choices.index(value) if value in s.choices else 0
        return where.selectbox(s.label, s.choices, index=index, key=key, help=help_)
    if s.kind is int:
        lo = int(s.lower) if s.lower is not None else None
        return where.number_input(
            s.label, min_value=lo, value=int(value), step=1, key=key, help=help_, disabled=disabled
        )
    scale = 100.0 if s.percent else 1.0
    shown = where.number_input(
        s.label,
        min_value=scale * s.lower if s.lower is not None else None,
        max_value=scale * s.upper if s.upper is not None else None,
        value=scale * float(value),
        key=key,
        help=help_,
        disabled=disabled,
    )
    return shown / scale


def fields(base: Methodology, on: dict[str, bool]) -> dict[str, Any]:
    """The constraint inputs (inside the form): scalars four to a row, then the bounds tables;
    returns the ``[constraints]`` changes (an optional rule switched off is None)."""
    all_specs = specs()
    scalars = [s for s in all_specs if s.kind != "bounds"]
    out: dict[str, Any] = {}
    cols = st.columns(4)
    for i, s in enumerate(scalars):
        value = getattr(base.constraints, s.name)
        off = s.optional and not on.get(s.name, False)
        shown = _widget(s, _start(s) if value is None else value, off, cols[i % 4])
        out[s.name] = None if off else shown
    for s in (s for s in all_specs if s.kind == "bounds"):
        st.markdown(f"**{s.field.label}** ({s.field.help}; share of index weight, percent)")
        grid = st.data_editor(
            _bounds_frame(s, getattr(base.constraints, s.name)),
            key=PREFIX + s.name,
            hide_index=True,
            num_rows="dynamic",
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(min_value=0.0, max_value=100.0)
                for c in ("lower %", "upper %")
            },
        )
        out[s.name] = _bounds_value(grid)
    return out
