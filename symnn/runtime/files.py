"""Model files: an .npz of the parameters plus a JSON description, loaded without pickle.

Loading reads the description first and checks it completely (its shape, every layer, the loss,
dtype, scaling and names, and that the parameters fit in memory); then it reads only the arrays the
description names, each after checking the shape its .npy header declares (read before anything is
decompressed) against the description. A file that is not a model, or a zip bomb, is refused before
it costs memory or time.
"""

from __future__ import annotations

import json
import math
import os
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from symnn.atomic import atomic_target
from symnn.errors import UserInputError

#: The description is a short JSON text; anything larger is not a symnn model file.
MAX_DESCRIPTION_BYTES = 1 << 20
#: More layers than any model symnn builds by hand or by `--layers`.
MAX_LAYERS = 10_000
#: Bytes of the header of a .npy array (magic, version, header length, the header's dict).
MAX_NPY_HEADER = 1 << 16
_DTYPES = ("float32", "float64")


def check_model_path(path: str) -> None:
    """A model file's name must end in .npz (checked before training, and again when saving)."""
    if Path(path).suffix != ".npz":
        raise UserInputError(f"model file {path!r} must end in .npz")


def save_model(path: str, description: dict, params: list[np.ndarray]) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    target = Path(path)
    check_model_path(path)
    bad = [i for i, p in enumerate(params) if not np.isfinite(p).all()]
    if bad:
        warnings.warn(f"saving {path}: parameters {bad} hold NaN or inf (the training diverged); "
                      "the model will predict NaN; retrain with a lower learning rate", RuntimeWarning, stacklevel=3)
    arrays = {f"param_{i}": p for i, p in enumerate(params)}
    try:
        text = json.dumps(description, sort_keys=True, allow_nan=False)
    except ValueError:
        raise UserInputError(f"saving {path}: the model's description holds NaN or inf (its input scaling?); "
                             "fit the scaling on finite data") from None
    arrays["description"] = np.array(text)
    with atomic_target(target) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


class _NotAModel(Exception):
    """Why a file is not a (valid) symnn model file: turned into one UserInputError by load_model."""


def load_model(path: str):
    """The Sequential saved at path (and the description's extra keys, on `.info`)."""
    from symnn.runtime.model import from_description

    shown = repr(str(path))
    try:
        with zipfile.ZipFile(path) as zf:
            desc = _description(zf)
            expected = _check_description(desc)
            arrays = [_read_array(zf, f"param_{i}.npy", shape, desc["dtype"]) for i, shape in enumerate(expected)]
        model = from_description(desc, arrays)
        _check_class_names(desc, model)
    except FileNotFoundError:
        raise UserInputError(f"model file {shown} not found; train one with 'symnn train --save {path}'") from None
    except IsADirectoryError:
        raise UserInputError(f"model file {shown} is a folder; give the path of a .npz file") from None
    except PermissionError:
        raise UserInputError(f"model file {shown}: permission denied; make the file readable") from None
    except (_NotAModel, UserInputError) as e:
        raise UserInputError(f"{shown} is not a valid symnn model file: {e}; save one with model.save "
                             "or 'symnn train --save'") from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError) as e:
        reason = "it is empty" if _is_empty(path) else f"{type(e).__name__}: {str(e)[:100]}"
        raise UserInputError(f"{shown} is not a symnn model file ({reason}); save one with model.save "
                             "or 'symnn train --save'") from None
    model.info = desc
    return model


def _is_empty(path: str) -> bool:
    try:
        return os.path.getsize(path) == 0
    except OSError:
        return False


def _member(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    try:
        return zf.getinfo(name)
    except KeyError:
        raise _NotAModel(f"it has no {name[:-4]!r} array") from None


def _npy_header(f, name: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran order, dtype, header bytes) from the start of a .npy stream, reading only its header."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_NPY_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_NPY_HEADER)
        else:
            raise _NotAModel(f"array {name!r} has .npy format {version}")
    except ValueError as e:
        raise _NotAModel(f"array {name!r} has no valid .npy header ({str(e)[:80]})") from None
    if dtype.hasobject:
        raise _NotAModel(f"array {name!r} holds Python objects (it would need pickle)")
    return tuple(shape), fortran, dtype, f.tell()


def _read_array(zf: zipfile.ZipFile, name: str, shape: tuple[int, ...] | None, dtype: str | None) -> np.ndarray:
    """One member's array, once its header's shape (and, if given, the description's shape and
    dtype) and the member's uncompressed size agree; nothing larger is ever read."""
    info = _member(zf, name)
    with zf.open(info) as f:
        declared, fortran, kind, header = _npy_header(f, name)
        if shape is not None and declared != shape:
            raise _NotAModel(f"array {name[:-4]!r} has shape {declared} where the description needs {shape}")
        if dtype is not None and kind.kind != "f":
            raise _NotAModel(f"array {name[:-4]!r} holds {kind}, not floating-point numbers")
        size = header + math.prod(declared) * kind.itemsize
        if info.file_size != size:
            raise _NotAModel(f"array {name[:-4]!r} declares {size} bytes but the file holds {info.file_size}")
        data = f.read(size - header)
    array = np.frombuffer(data, dtype=kind)
    return array.reshape(declared[::-1]).T if fortran else array.reshape(declared)


def _description(zf: zipfile.ZipFile) -> object:
    """The description's JSON, read from its (small, checked) member."""
    info = _member(zf, "description.npy")
    if info.file_size > MAX_DESCRIPTION_BYTES:
        raise _NotAModel(f"its description is {info.file_size} bytes (a symnn description is a short text)")
    array = _read_array(zf, "description.npy", None, None)
    if array.dtype.kind != "U" or array.shape != ():
        raise _NotAModel("its description is not a text")
    try:
        return json.loads(str(array[()]))
    except RecursionError:
        raise _NotAModel("its description nests too deeply") from None
    except ValueError as e:
        raise _NotAModel(f"its description is not JSON ({str(e)[:80]})") from None


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _check_description(desc: object) -> list[tuple[int, ...]]:
    """Check a description throughout; the shapes of the parameter arrays it names, in order."""
    if not isinstance(desc, dict):
        raise _NotAModel(f"its description is a JSON {type(desc).__name__}, not an object")
    if desc.get("format") != "symnn-model":
        raise _NotAModel("its description does not say format 'symnn-model'")
    if desc.get("version", 1) != 1:
        raise _NotAModel(f"it is version {desc.get('version')!r}; this symnn reads version 1")
    for key in ("layers", "loss", "dtype"):
        if key not in desc:
            raise _NotAModel(f"its description lacks {key!r}")
    if not isinstance(desc["loss"], str):
        raise _NotAModel("its loss is not a name or a formula")
    if desc["dtype"] not in _DTYPES:
        raise _NotAModel(f"its dtype {desc['dtype']!r} is not one of {', '.join(_DTYPES)}")
    layers = desc["layers"]
    if not isinstance(layers, list) or not layers:
        raise _NotAModel("its layers are not a non-empty list")
    if len(layers) > MAX_LAYERS:
        raise _NotAModel(f"it has {len(layers)} layers (at most {MAX_LAYERS})")
    shapes: list[tuple[int, ...]] = []
    width = None
    for i, layer in enumerate(layers):
        where = f"layer {i + 1}"
        if not isinstance(layer, dict):
            raise _NotAModel(f"{where} is not an object")
        kind = layer.get("type")
        if kind == "dense":
            n_in, n_out = layer.get("n_in"), layer.get("n_out")
            if not (_whole(n_in) and _whole(n_out) and n_in >= 1 and n_out >= 1):
                raise _NotAModel(f"{where} (dense) needs positive whole n_in and n_out")
            if width is not None and n_in != width:
                raise _NotAModel(f"{where} takes {n_in} inputs but receives {width}")
            if not isinstance(layer.get("init", "auto"), str):
                raise _NotAModel(f"{where}'s init is not a name")
            shapes += [(n_out, n_in), (n_out,)]
            width = n_out
        elif kind == "activation":
            if not isinstance(layer.get("name"), str) or not layer["name"]:
                raise _NotAModel(f"{where} (activation) has no name")
            if i == 0:
                raise _NotAModel("it starts with an activation, not a dense layer")
            _check_parameters(layer.get("parameters"), f"{where}'s parameters")
        else:
            raise _NotAModel(f"{where} has the unknown type {str(kind)[:40]!r} (known: dense, activation)")
    n_in = layers[0]["n_in"]
    total = sum(math.prod(s) for s in shapes)
    need = total * np.dtype(desc["dtype"]).itemsize
    memory = _memory_bytes()
    if memory is not None and 2 * need > memory:
        raise _NotAModel(f"its {total} parameters need {need / 1e9:.3g} GB, more than this machine "
                         f"can hold ({memory / 1e9:.3g} GB)")
    _check_parameters(desc.get("loss_parameters"), "its loss_parameters")
    _check_scaling(desc.get("standardize"), n_in)
    for key, count in (("feature_names", n_in),):
        names = desc.get(key)
        if names is not None and (not isinstance(names, list) or not all(isinstance(x, str) for x in names)
                                  or (names and len(names) != count)):
            raise _NotAModel(f"its {key} are not {count} names")
    names = desc.get("class_names")
    if names is not None and (not isinstance(names, list) or not all(isinstance(x, str) for x in names)):
        raise _NotAModel("its class_names are not a list of names")
    return shapes


def _check_parameters(given: object, what: str) -> None:
    """A definition's parameters: names to finite numbers (their ranges are checked when the layer
    or loss is built, with the message that names the fix)."""
    if given is None:
        return
    if not isinstance(given, dict) or len(given) > 16 or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for k, v in given.items()):
        raise _NotAModel(f"{what} are not names with finite numbers")


def _check_scaling(scale: object, n_in: int) -> None:
    if scale is None:
        return
    if not isinstance(scale, dict) or not {"mean", "std"} <= scale.keys():
        raise _NotAModel("its standardize entry lacks mean and std")
    for key in ("mean", "std"):
        values = scale[key]
        if not isinstance(values, list) or len(values) != n_in or \
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise _NotAModel(f"its scaling's {key} is not {n_in} finite numbers (one per input)")
    if any(v <= 0 for v in scale["std"]):
        raise _NotAModel("its scaling's std has a value <= 0")


def _check_class_names(desc: dict, model) -> None:
    """The class names a file gives must be one per class of its model's loss."""
    names = desc.get("class_names") or []
    if not names:
        return
    if not model.loss_fn.classification:
        raise _NotAModel(f"it names {len(names)} classes but its loss {model.loss_fn.name} is not a classification loss")
    classes = 2 if model.n_out == 1 else model.n_out
    if len(names) != classes:
        raise _NotAModel(f"it names {len(names)} classes but its model has {classes}")
