"""Analysis of frozen encoders: task specs (`tasks`), protocols (`protocols`), poolings and probes (`probing`),
geometry and lexical metrics (`metrics`), GLUE metrics (`glue`), significance and claim verdicts
(`significance`), the paper under test as data (`paper`, `paper.yaml`), typed results and their JSON
(`results`), the report (`report`), and `run_glue_probe`'s entry point (`probe`)."""
