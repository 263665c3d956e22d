"""Package names load on first use: the CLI and the serve launcher start without torch, and every
name a package lists still resolves."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

LAZY_PACKAGES = ("guards", "evaluation", "packager.classifier", "packager.pipeline", "packager.sigma")


def _imported_after(code: str) -> set[str]:
    """The heavy libraries a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return set(out.splitlines()[-1].split()) if out.strip() else set()  # the last line; a help text comes before it


@pytest.mark.parametrize("code", [
    "import packager.cli",
    "from packager.cli import cli\ncli.main(['serve', '--help'], standalone_mode=False)",
    "import bentos.launch, guards.errors, guards.manifest",
    "from packager.cli import cli\ncli.main(['models'], standalone_mode=False)",
])  # fmt: skip
def test_light_entry_points_import_no_model_library(code: str) -> None:
    assert _imported_after(code) == set()


def test_a_command_that_loads_models_still_quiets_the_libraries() -> None:
    code = ("from packager.cli import cli\n"
            "cli.main(['eval', '--help'], standalone_mode=False)\n"
            "from transformers.utils import logging\nassert logging.get_verbosity() == logging.ERROR")
    assert "transformers" in _imported_after(code)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_listed_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ and set(module.__all__) <= set(dir(module))
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018
