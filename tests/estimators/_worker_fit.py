"""One worker's fit in the multi-worker tests.

``python -m tests.estimators._worker_fit DATA OUT OPTIONS_JSON``: fits an
estimator on the files ``DATA`` (one worker without ``TF_CONFIG``, else one of
the launcher's workers) and writes ``OUT/worker-<rank>.npz`` (the weights)
and ``OUT/worker-<rank>.json`` (certificate, lattices, history).
"""

import json
import os
import sys

from tf_lattice import distribute

STRATEGY = distribute.strategy()  # before any other TensorFlow call

import numpy as np  # noqa: E402

from tf_lattice import estimators  # noqa: E402


def main(data, out, options):
    options = dict(options)
    cls = getattr(estimators, options.pop("estimator", "CalibratedLatticeEnsembleRegressor"))
    source = options.pop("source", {})
    checkpoint_dir = options.pop("checkpoint_dir", None)
    save = options.pop("save", None)
    model = cls(distribute_strategy=STRATEGY, verbose=0, **options)
    model.fit(estimators.FileSource(data, target="y", **source), checkpoint_dir=checkpoint_dir)
    rank = distribute.worker_rank()
    if save and distribute.is_chief():
        model.save(save)
    os.makedirs(out, exist_ok=True)
    np.savez(os.path.join(out, f"worker-{rank}.npz"), *model.model_.get_weights())
    report = {"holds": bool(model.certify().holds), "history": model.history_,
              "lattices": getattr(model, "lattices_", None),
              "keypoints": [list(spec.keypoints) for spec in model.feature_specs_]}
    with open(os.path.join(out, f"worker-{rank}.json"), "w") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
