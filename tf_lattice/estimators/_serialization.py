"""Saving estimators: the Keras archive plus a JSON of the estimator.

``save`` writes the fitted Keras model in the ``.keras`` format and adds one
more member, ``tf_lattice_estimator.json``, to that zip archive: the
estimator's class, parameters and fitted attributes as plain JSON. The file is
still a valid Keras archive (``keras.saving.load_model`` reads it) and loading
the estimator needs no pickle.

Before Keras reads an archive, `check_archive` refuses anything a model saved
by the estimators never contains and that could run code or write files:
members with absolute or ``..`` paths (zip slip) or outside the Keras layout,
objects from modules other than ``keras`` and ``tf_lattice``, ``Lambda``
layers and serialized functions (bytecode), and any mention of unsafe
deserialization. The Keras loader then runs in its safe mode, and the sizes
of the lattices the configuration describes are checked before any weight is
allocated (see `_limits`).
"""

import json
import os
import posixpath
import re
import tempfile
import zipfile

import keras
import numpy as np

from tf_lattice.estimators import _limits

ESTIMATOR_MEMBER = "tf_lattice_estimator.json"
FORMAT_VERSION = 1
#: The members of a Keras archive (``assets/`` holds files of some layers).
KERAS_MEMBERS = ("metadata.json", "config.json", "model.weights.h5", "model.weights.npz")
#: Modules whose classes a model file may name.
ALLOWED_MODULE_PREFIXES = ("keras", "tf_lattice")
#: Classes that carry code: Python functions or bytecode.
REFUSED_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda", "__lambda__", "function",
                   "__function__", "__bytes__")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNSAFE_WORDS = ("unsafe_deserialization", "safe_mode")


def encode_array(values):
    """A JSON form of a 1-D array that restores its dtype (labels, names)."""
    values = np.asarray(values)
    return {"dtype": values.dtype.str if values.dtype.kind != "O" else "object",
            "values": [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]}


def decode_array(data):
    return np.asarray(data["values"], dtype=object if data["dtype"] == "object" else data["dtype"])


def model_to_bytes(model):
    """The ``.keras`` archive of ``model`` as bytes."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as handle:
            return handle.read()


def model_from_bytes(data):
    """The Keras model stored by :func:`model_to_bytes`."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as handle:
            handle.write(data)
        return load_keras_model(path)


def encode_param(value):
    """A JSON form of an estimator parameter that `decode_param` restores.

    Dicts whose keys are not all strings (column positions, ``{0:
    "increasing"}``) are stored as ``{"__items__": [[key, value], ...]}`` so
    their keys keep their type; tuples become lists.
    """
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: encode_param(v) for k, v in value.items()}
        return {"__items__": [[encode_param(k), encode_param(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [encode_param(v) for v in value]
    if isinstance(value, np.ndarray):
        return [encode_param(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.random.RandomState):
        return None
    return value


def decode_param(value):
    """Inverts `encode_param` (lists stay lists)."""
    if isinstance(value, dict):
        if set(value) == {"__items__"}:
            return {decode_param(k): decode_param(v) for k, v in value["__items__"]}
        return {k: decode_param(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_param(v) for v in value]
    return value


def _unsafe_member(name):
    if name.startswith(("/", "\\")) or "\\" in name or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    parts = posixpath.normpath(name).split("/")
    if ".." in name.split("/") or parts[0] == "..":
        return "a path outside the archive ('..')"
    if name not in KERAS_MEMBERS + (ESTIMATOR_MEMBER,) and not name.startswith("assets/"):
        return "not part of a Keras model archive"
    return None


def _check_config_node(node, path, where):
    """Raises ValueError on objects in a model config that could run code."""
    if isinstance(node, dict):
        for key, value in node.items():
            if any(word in str(key).lower() for word in _UNSAFE_WORDS):
                raise ValueError(f"{path}: the model config sets {key!r} at {where}; refusing a "
                                 "file that asks for unsafe deserialization")
            if isinstance(value, str) and any(word in value.lower() for word in _UNSAFE_WORDS):
                raise ValueError(f"{path}: the model config names {value!r} at {where}/{key}; "
                                 "refusing a file that asks for unsafe deserialization")
        class_name = node.get("class_name")
        if class_name is not None:
            if not isinstance(class_name, str) or (not _IDENTIFIER.match(class_name)
                                                   and class_name != "__keras_tensor__"):
                raise ValueError(f"{path}: the model config names the class {class_name!r} at "
                                 f"{where}, which is not a plain class name; refusing it")
            if class_name in REFUSED_CLASSES:
                raise ValueError(f"{path}: the model config holds a {class_name!r} at {where}, "
                                 "which carries Python code; refusing to load it")
            module = node.get("module")
            if module is not None and (not isinstance(module, str) or not any(
                    module == prefix or module.startswith(prefix + ".")
                    for prefix in ALLOWED_MODULE_PREFIXES)):
                raise ValueError(f"{path}: the model config takes {class_name!r} from module "
                                 f"{module!r} at {where}; only keras and tf_lattice objects "
                                 "are loaded")
            registered = node.get("registered_name")
            if registered is not None and registered != class_name and not (
                    isinstance(registered, str) and registered == f"tf_lattice>{class_name}"):
                raise ValueError(f"{path}: the model config registers {class_name!r} as "
                                 f"{registered!r} at {where}; only keras and tf_lattice objects "
                                 "are loaded")
        for key, value in node.items():
            _check_config_node(value, path, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _check_config_node(value, path, f"{where}[{index}]")


def check_archive(path):
    """Checks a ``.keras`` archive before Keras reads it; returns its config.

    Raises:
      ValueError: naming ``path`` and the problem: not a zip archive, an
        unsafe or unexpected member, a config that names code or modules
        other than keras and tf_lattice, or lattices too large to allocate.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            for name in names:
                problem = _unsafe_member(name)
                if problem:
                    raise ValueError(f"{path}: the archive member {name!r} is {problem}; "
                                     "refusing to load it")
            if "config.json" not in names:
                raise ValueError(f"{path}: not a Keras model archive (config.json is missing)")
            config = json.loads(archive.read("config.json"))
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not a Keras model archive (not a zip file, or truncated)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{path}: the model config (config.json) is not valid JSON") from None
    _check_config_node(config, path, "config")
    _limits.check_config(config, path)
    return config


def load_keras_model(path):
    """`keras.saving.load_model` in safe mode, after `check_archive`."""
    check_archive(path)
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def write(path, model, payload):
    """Writes ``model`` and the JSON ``payload`` to one ``.keras`` file."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"path must end in '.keras' (the Keras archive format), got {path!r}")
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(ESTIMATOR_MEMBER, json.dumps(dict(payload, format=FORMAT_VERSION)))


def read_payload(path):
    """The estimator description written by :func:`write` (no model is loaded).

    Raises:
      ValueError: naming ``path``: a missing file, not a zip archive, no
        estimator description, or a description that is not a JSON object.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path!r}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            if ESTIMATOR_MEMBER not in archive.namelist():
                raise ValueError(f"{path!r} is a Keras archive without a tf_lattice estimator "
                                 f"({ESTIMATOR_MEMBER} is missing); load it with "
                                 "keras.saving.load_model")
            payload = json.loads(archive.read(ESTIMATOR_MEMBER))
    except zipfile.BadZipFile:
        raise ValueError(f"{path!r} is not a saved estimator (not a zip archive, or "
                         "truncated)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{path!r}: its {ESTIMATOR_MEMBER} is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path!r}: its {ESTIMATOR_MEMBER} is not a JSON object")
    return payload


def read_model(path):
    """The Keras model of a saved estimator, checked by `check_archive` first.

    Raises:
      ValueError: naming ``path``: an unsafe or oversized archive, or weights
        Keras cannot read (a truncated or corrupt file).
    """
    path = os.fspath(path)
    check_archive(path)
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras and h5py raise many kinds on corrupt files
        detail = " ".join(str(error).split())[:300]
        raise ValueError(f"{path!r}: Keras cannot read the model ({type(error).__name__}: "
                         f"{detail}); the file may be truncated or corrupt") from None


def read(path):
    """Returns ``(model, payload)`` written by :func:`write`.

    Raises:
      ValueError: if the file holds no estimator description, or see
        `read_payload` and `read_model`.
    """
    payload = read_payload(path)
    return read_model(path), payload

