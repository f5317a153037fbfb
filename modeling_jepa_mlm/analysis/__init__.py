"""Analysis of frozen encoders: tasks, poolings for probing, geometry and lexical metrics, significance, reports
and `run_glue_probe`'s entry point (`modeling_jepa_mlm.analysis.probe`)."""
