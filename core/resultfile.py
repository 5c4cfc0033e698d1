"""Results as data files: a zip holding ``tree.json`` (the structure) and one Parquet file per
frame. Used by the result cache; nothing is ever unpickled or evaluated on reading.

What it holds: JSON scalars, timestamps, lists, tuples, dicts, pandas frames, series and indexes
(as Parquet), numpy scalars (as Python numbers), exchina dataclasses (field by field) and
exchina pydantic models (validated again from their JSON dump). A class is named by module and
name and must live in an ``exchina`` module and be a dataclass or pydantic model; anything else
is refused (``TypeError`` on writing, ``ValueError`` on reading).
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import math
import zipfile
from typing import IO, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

TREE = "tree.json"


class _Writer:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.n = 0

    def frame(self, df: pd.DataFrame) -> dict[str, Any]:
        names = [self.enc(c) for c in df.columns]
        plain = df.set_axis([f"c{i}" for i in range(df.shape[1])], axis=1)
        buf = io.BytesIO()
        plain.to_parquet(buf, index=True)
        self.n += 1
        name = f"f{self.n}.parquet"
        self.zf.writestr(name, buf.getvalue())
        freq = getattr(df.index, "freqstr", None)
        return {"file": name, "columns": names, "columns_name": self.enc(df.columns.name),
                "freq": freq}  # fmt: skip

    def enc(self, x: Any) -> Any:
        if x is None or isinstance(x, bool | str):
            return x
        if isinstance(x, int | np.integer):
            return int(x)
        if isinstance(x, float | np.floating):
            f = float(x)
            return f if math.isfinite(f) else {"float": repr(f)}
        if isinstance(x, np.bool_):
            return bool(x)
        if isinstance(x, pd.Timestamp):
            return {"ts": x.isoformat()} if x is not pd.NaT else {"nat": True}
        if x is pd.NaT:
            return {"nat": True}
        if isinstance(x, pd.DataFrame):
            return {"df": self.frame(x)}
        if isinstance(x, pd.Series):
            return {"series": self.frame(x.to_frame("v")), "name": self.enc(x.name)}
        if isinstance(x, pd.Index):
            return {"index": self.frame(pd.DataFrame(index=x))}
        if isinstance(x, np.ndarray):
            return {"array": self.frame(pd.DataFrame({"v": x.ravel()})), "shape": list(x.shape)}
        if isinstance(x, list):
            return {"list": [self.enc(v) for v in x]}
        if isinstance(x, tuple):
            return {"tuple": [self.enc(v) for v in x]}
        if isinstance(x, dict):
            return {"dict": [[self.enc(k), self.enc(v)] for k, v in x.items()]}
        cls = type(x)
        name = f"{cls.__module__}:{cls.__qualname__}"
        if not cls.__module__.startswith("exchina."):
            raise TypeError(f"cannot store a {name}")
        if isinstance(x, BaseModel):
            return {"model": name, "json": x.model_dump(mode="json")}
        if dataclasses.is_dataclass(x):
            fields = {f.name: self.enc(getattr(x, f.name)) for f in dataclasses.fields(x)}
            return {"dataclass": name, "fields": fields}
        raise TypeError(f"cannot store a {name}")


def _class(name: str) -> type:
    module, _, qual = name.partition(":")
    if not module.startswith("exchina.") or "." in qual:
        raise ValueError(f"refusing to load class {name!r}")
    cls = getattr(importlib.import_module(module), qual)
    if not (
        isinstance(cls, type) and (issubclass(cls, BaseModel) or dataclasses.is_dataclass(cls))
    ):
        raise ValueError(f"refusing to load class {name!r}")
    return cls


class _Reader:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf

    def frame(self, spec: dict[str, Any]) -> pd.DataFrame:
        df = pd.read_parquet(io.BytesIO(self.zf.read(spec["file"])))
        df.columns = pd.Index([self.dec(c) for c in spec["columns"]], dtype=object)
        df.columns.name = self.dec(spec["columns_name"])
        if df.shape[1] and all(isinstance(c, str) for c in df.columns):
            df.columns = df.columns.astype(str)
        if spec.get("freq"):
            df.index = pd.DatetimeIndex(df.index, freq=spec["freq"])
        return df

    def dec(self, x: Any) -> Any:
        if not isinstance(x, dict):
            return x
        kind, value = next(iter(x.items()))
        if kind == "float":
            return float(value)
        if kind == "ts":
            return pd.Timestamp(value)
        if kind == "nat":
            return pd.NaT
        if kind == "df":
            return self.frame(value)
        if kind == "series":
            return self.frame(value)["v"].rename(self.dec(x["name"]))
        if kind == "index":
            return self.frame(value).index
        if kind == "array":
            return self.frame(value)["v"].to_numpy().reshape(x["shape"])
        if kind == "list":
            return [self.dec(v) for v in value]
        if kind == "tuple":
            return tuple(self.dec(v) for v in value)
        if kind == "dict":
            return {self.dec(k): self.dec(v) for k, v in value}
        if kind == "model":
            model = _class(value)
            if not issubclass(model, BaseModel):
                raise ValueError(f"refusing to load class {value!r} as a model")
            return model.model_validate(x["json"])
        if kind == "dataclass":
            cls = _class(value)
            obj = object.__new__(cls)
            for k, v in x["fields"].items():
                object.__setattr__(obj, k, self.dec(v))
            return obj
        raise ValueError(f"unknown entry kind {kind!r}")


def write_result(value: Any, fh: IO[bytes]) -> None:
    """Write ``value`` to the binary file ``fh`` (TypeError for what cannot be stored)."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        tree = _Writer(zf).enc(value)
        zf.writestr(TREE, json.dumps(tree, allow_nan=False))


def read_result(fh: IO[bytes]) -> Any:
    """Read a value written by ``write_result`` (ValueError or zipfile errors when corrupt)."""
    with zipfile.ZipFile(fh) as zf:
        return _Reader(zf).dec(json.loads(zf.read(TREE)))
