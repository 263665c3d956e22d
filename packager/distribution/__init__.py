"""Distribution: push artifacts to the Hugging Face Hub or S3 and render deployments from ``infra/``.

Pulling lives in ``guards.remote`` because serving needs it too (``guards`` never imports ``packager``).
"""
