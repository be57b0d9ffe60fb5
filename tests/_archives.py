"""Saved-model archives (``.keras`` zip files) rewritten for tests of loading."""

import json
import zipfile


def rewrite_archive(source, target, edits=None, drop=(), extra_members=()):
    """Copies the zip archive ``source`` to ``target``, changed on the way.

    Args:
      edits: ``{member name: function}``; the member's JSON is decoded,
        passed to the function (which changes it in place) and encoded again.
        A function that is None leaves its member as it is.
      drop: names of members left out.
      extra_members: ``(name, bytes)`` members written after the others.

    Returns:
      ``target``.
    """
    edits = edits or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            if name in drop:
                continue
            data = old.read(name)
            if edits.get(name):
                payload = json.loads(data)
                edits[name](payload)
                data = json.dumps(payload)
            new.writestr(name, data)
        for name, data in extra_members:
            new.writestr(name, data)
    return target
