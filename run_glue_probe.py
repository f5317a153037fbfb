"""Representation analysis of frozen encoders: geometry, lexical information, balance, linear probes.

    python run_glue_probe.py --model_name_or_path out/hybrid out/mlm --output_dir probe/

The work is done by `modeling_jepa_mlm.analysis.probe`; see `python run_glue_probe.py --help`.
"""

from modeling_jepa_mlm.analysis.probe import main

if __name__ == "__main__":
    main()
