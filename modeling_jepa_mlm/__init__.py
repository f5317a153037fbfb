"""jepa-mlm: hybrid JEPA + MLM pre-training of text encoders and the analysis of their representations.

Importing the package registers the model with transformers' Auto classes, so `AutoModel.from_pretrained`
works on a saved folder without `trust_remote_code` where the package is installed, and `save_pretrained`
writes the code files and `auto_map` so that it also works with `trust_remote_code` where it is not.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
)

from .configuration_jepa_mlm import JepaMlmConfig
from .modeling_jepa_mlm import (
    JepaMlmForMaskedLM,
    JepaMlmForPreTraining,
    JepaMlmForSequenceClassification,
    JepaMlmModel,
    JepaMlmPreTrainedModel,
    JepaMlmPreTrainingOutput,
)

AUTO_CLASSES = {
    AutoModel: JepaMlmModel,
    AutoModelForMaskedLM: JepaMlmForMaskedLM,
    AutoModelForSequenceClassification: JepaMlmForSequenceClassification,
    AutoModelForPreTraining: JepaMlmForPreTraining,
}

AutoConfig.register(JepaMlmConfig.model_type, JepaMlmConfig, exist_ok=True)
JepaMlmConfig.register_for_auto_class()
for _auto, _cls in AUTO_CLASSES.items():
    _auto.register(JepaMlmConfig, _cls, exist_ok=True)
    _cls.register_for_auto_class(_auto.__name__)

__all__ = [
    "JepaMlmConfig",
    "JepaMlmForMaskedLM",
    "JepaMlmForPreTraining",
    "JepaMlmForSequenceClassification",
    "JepaMlmModel",
    "JepaMlmPreTrainedModel",
    "JepaMlmPreTrainingOutput",
]
