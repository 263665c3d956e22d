"""The build's stages, in order (``packager.pipeline.build.STAGES``). Each module defines one
frozen inputs type, one result type and ``STAGE``; docs/architecture.md lists them."""
