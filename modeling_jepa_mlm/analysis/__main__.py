"""`python -m modeling_jepa_mlm.analysis --model_name_or_path A B ...`: the same as `run_glue_probe.py`."""

from .probe import main

if __name__ == "__main__":
    main()
