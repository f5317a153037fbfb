"""The whole pipeline offline on CPU in a few minutes, on synthetic data this package generates:
`python -m modeling_jepa_mlm.quickstart`."""

from .pipeline import TINY_MODEL_CONFIG, main, reload_without_package

__all__ = ["TINY_MODEL_CONFIG", "main", "reload_without_package"]
