"""Model files: an .npz of the parameters plus a JSON description, loaded without pickle."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from symnn.atomic import atomic_target
from symnn.errors import UserInputError


def save_model(path: str, description: dict, params: list[np.ndarray]) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    target = Path(path)
    if target.suffix != ".npz":
        raise UserInputError(f"model file {path!r} must end in .npz")
    arrays = {f"param_{i}": p for i, p in enumerate(params)}
    arrays["description"] = np.array(json.dumps(description, sort_keys=True))
    with atomic_target(target) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_model(path: str):
    """The Sequential saved at path (and the description's extra keys, on `.info`)."""
    from symnn.runtime.model import from_description

    try:
        with np.load(path, allow_pickle=False) as data:
            desc = json.loads(str(data["description"]))
            count = sum(1 for k in data.files if k.startswith("param_"))
            arrays = [data[f"param_{i}"] for i in range(count)]
    except FileNotFoundError:
        raise UserInputError(f"model file {path!r} not found; train one with 'symnn train --save {path}'") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise UserInputError(f"{path!r} is not a symnn model file ({type(e).__name__}); "
                             "save one with model.save or 'symnn train --save'") from None
    if desc.get("format") != "symnn-model":
        raise UserInputError(f"{path!r} is not a symnn model file; save one with model.save")
    model = from_description(desc, arrays)
    model.info = desc
    return model
