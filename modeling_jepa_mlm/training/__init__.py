"""Pre-training: data loading and packing, masking samplers, the collator, the Trainer and `run_pretraining`'s
entry point (`modeling_jepa_mlm.training.pretrain`)."""
