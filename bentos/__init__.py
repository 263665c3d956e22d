"""The serving bento: a BentoML service that puts a built artifact's guarded model behind an
OpenAI-compatible API. Imports ``guards``, never ``packager``."""
