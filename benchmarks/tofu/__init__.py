"""The TOFU benchmark at CPU scale: ECO guards against retain models and gradient-based unlearning.

Run ``python -m benchmarks.tofu --help``; see docs/tofu_benchmark.md for the full protocol.
"""
