"""The prompt classifier: training, split-conformal calibration and its report.

Its names load on first use (lazy_loader): the build's settings read the calibration's policies
without importing training (torch, evaluation)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "calibration": ["CalibrationError", "calibrate", "conformal_quantile", "min_calibration_size"],
    "config": ["ClassifierConfig", "default_backbone"],
    "data": ["ClassifierData", "split_forget_set"],
    "report": ["ClassifierReport", "evaluate_classifier"],
    "train": ["TrainedClassifier", "calibrate_classifier", "train_classifier"],
})  # fmt: skip
