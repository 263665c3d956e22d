"""The prompt classifier: training, split-conformal calibration and its report."""

from packager.classifier.calibration import (
    CalibrationError,
    calibrate,
    conformal_quantile,
    min_calibration_size,
)
from packager.classifier.config import ClassifierConfig, default_backbone
from packager.classifier.data import ClassifierData, split_forget_set
from packager.classifier.report import ClassifierReport, evaluate_classifier
from packager.classifier.train import TrainedClassifier, calibrate_classifier, train_classifier

__all__ = [
    "CalibrationError",
    "ClassifierConfig",
    "ClassifierData",
    "ClassifierReport",
    "TrainedClassifier",
    "calibrate",
    "calibrate_classifier",
    "conformal_quantile",
    "default_backbone",
    "evaluate_classifier",
    "min_calibration_size",
    "split_forget_set",
    "train_classifier",
]
