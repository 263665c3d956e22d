"""The build's stages, in order. Each module defines ``STAGE``: inputs to hash, and ``run``."""
