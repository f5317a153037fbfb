"""jepa-mlm: hybrid JEPA + MLM pre-training of text encoders and the analysis of their representations."""
