"""The one PAIS version, shared by every package of the workspace."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pais-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
