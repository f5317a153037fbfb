"""Pre-train a jepa-mlm encoder (hybrid JEPA + MLM, or the MLM baseline).

    python run_pretraining.py configs/hybrid.yaml [--max_steps 100 --output_dir out/x ...]
    accelerate launch run_pretraining.py configs/mlm.yaml

The work is done by `modeling_jepa_mlm.training.pretrain`; see `python run_pretraining.py --help`.
"""

from modeling_jepa_mlm.training.pretrain import main

if __name__ == "__main__":
    main()
