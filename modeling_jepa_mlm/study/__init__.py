"""Studies: arms x seeds x budget from one study file, run resumably by one command,
`python -m modeling_jepa_mlm.study <study.yaml>` (see `modeling_jepa_mlm.study.spec` for the file format)."""

from .runner import STAGES, run_study
from .spec import Run, StudySpec, load_study

__all__ = ["STAGES", "Run", "StudySpec", "load_study", "run_study"]
