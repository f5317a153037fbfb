"""`python -m modeling_jepa_mlm.training <config.yaml> [--flags]`: the same as `run_pretraining.py`."""

from .pretrain import main

if __name__ == "__main__":
    main()
