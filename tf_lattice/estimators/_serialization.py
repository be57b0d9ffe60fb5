"""Saving estimators: the Keras archive plus a JSON of the estimator.

``save`` writes the fitted Keras model in the ``.keras`` format and adds one
more member, ``tf_lattice_estimator.json``, to that zip archive: the
estimator's class, parameters and fitted attributes as plain JSON. The file is
still a valid Keras archive (``keras.saving.load_model`` reads it) and loading
the estimator needs no pickle.
"""

import json
import os
import tempfile
import zipfile

import keras
import numpy as np

ESTIMATOR_MEMBER = "tf_lattice_estimator.json"
FORMAT_VERSION = 1


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
        return keras.saving.load_model(path, compile=False)


def write(path, model, payload):
    """Writes ``model`` and the JSON ``payload`` to one ``.keras`` file."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"path must end in '.keras' (the Keras archive format), got {path!r}")
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(ESTIMATOR_MEMBER, json.dumps(dict(payload, format=FORMAT_VERSION)))


def read(path):
    """Returns ``(model, payload)`` written by :func:`write`.

    Raises:
      ValueError: if the file holds no estimator description.
    """
    path = os.fspath(path)
    with zipfile.ZipFile(path) as archive:
        if ESTIMATOR_MEMBER not in archive.namelist():
            raise ValueError(f"{path!r} is a Keras archive without a tf_lattice estimator "
                             f"({ESTIMATOR_MEMBER} is missing); load it with keras.saving.load_model")
        payload = json.loads(archive.read(ESTIMATOR_MEMBER))
    model = keras.saving.load_model(path, compile=False)
    return model, payload

