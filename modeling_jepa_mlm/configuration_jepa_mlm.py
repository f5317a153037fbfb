"""`JepaMlmConfig`: everything needed to rebuild the encoder, its heads and the pre-training objective."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

OBJECTIVES = ("hybrid", "mlm", "jepa")
JEPA_CONTEXTS = ("blocks", "shared")
JEPA_LOSSES = ("cosine", "smooth_l1", "mse")
BALANCES = ("sigmoid", "uncertainty", "fixed", "gradnorm", "loss_scale")
# The balances whose weights follow running estimates measured during training (buffers of `JepaMlmBalance`).
STATEFUL_BALANCES = ("gradnorm", "loss_scale")
POOLINGS = ("mean", "max", "cls", "first_last_mean")
HIDDEN_ACTS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu")
LAYER_NORM_POSITIONS = ("post", "pre")
POSITION_EMBEDDING_TYPES = ("absolute", "alibi")

# Written into every saved config so that a folder loads through any Auto class with trust_remote_code,
# whichever of the model classes saved it.
AUTO_MAP = {
    "AutoConfig": "configuration_jepa_mlm.JepaMlmConfig",
    "AutoModel": "modeling_jepa_mlm.JepaMlmModel",
    "AutoModelForMaskedLM": "modeling_jepa_mlm.JepaMlmForMaskedLM",
    "AutoModelForSequenceClassification": "modeling_jepa_mlm.JepaMlmForSequenceClassification",
    "AutoModelForPreTraining": "modeling_jepa_mlm.JepaMlmForPreTraining",
}


def _check_choice(field: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(
            f"JepaMlmConfig.{field}={value!r} is not valid; accepted values: {', '.join(choices)}"
        )


def _check_positive_int(field: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"JepaMlmConfig.{field}={value!r} is not valid; accepted values: an integer > 0")


def _check_positive_number(field: str, value: Any) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
        raise ValueError(f"JepaMlmConfig.{field}={value!r} is not valid; accepted values: a number > 0")


def _check_range(field: str, value: Any, low: float, high: float) -> None:
    if not isinstance(value, (int, float)) or not (low <= value <= high):
        raise ValueError(
            f"JepaMlmConfig.{field}={value!r} is not valid; accepted values: a number in [{low}, {high}]"
        )


class JepaMlmConfig(PretrainedConfig):
    r"""Configuration of a jepa-mlm encoder and of its pre-training objective.

    The encoder fields keep BERT's names. The defaults are the paper's encoder: 6 layers, 512 wide, 8 heads,
    the bert-base-uncased vocabulary (about 35M parameters).

    Args:
        vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act,
        hidden_dropout_prob, attention_probs_dropout_prob, max_position_embeddings, type_vocab_size,
        layer_norm_eps, initializer_range, pad_token_id: as in `BertConfig`.
        mask_token_id: id of `[MASK]` (103 in bert-base-uncased).
        layer_norm_position: `post` (BERT and the paper: LayerNorm after each residual addition) or `pre`
            (LayerNorm before attention and feed-forward, one more at the top of the stack; Xiong et al. 2020,
            "On Layer Normalization in the Transformer Architecture"), which trains stably at higher learning
            rates.
        position_embedding_type: `absolute` (BERT and the paper: learned position embeddings added to the token
            embeddings) or `alibi` (no position embeddings; each encoder head adds `-m_h |i - j|` to its attention
            scores, the symmetric ALiBi of MosaicBERT after Press et al. 2022, "Train Short, Test Long", with
            ALiBi's head slopes `m_h`). ALiBi makes attention local from the first step. The predictor keeps its
            own learned position embeddings either way.
        pooling: what `JepaMlmModel.pooler_output` returns: `mean`, `max`, `cls` or `first_last_mean`.
        objective: `hybrid` (JEPA + MLM, balanced), `mlm` (baseline; no target encoder nor predictor is built)
            or `jepa` (latent prediction only).
        jepa_context: `blocks` (I-JEPA 1-D multi-block masks, paper-faithful: three encoder passes a step) or
            `shared` (one online pass over the BERT-masked sequence feeds both heads; targets at masked positions).
        jepa_loss: `cosine` (1 - cos, the paper), `smooth_l1` or `mse`.
        jepa_target_layers: targets are the average of the top-K target-encoder layers, each layer-normalised
            without affine parameters; 1 is the paper's last layer, data2vec uses 8 of 12.
        smooth_l1_beta: the transition point of the smooth-L1 loss.
        balance: `sigmoid` (`L = s L_jepa + (1 - s) L_mlm`, `s = sigmoid(w)`, the paper; the total is linear in
            `s`, so `w` drifts toward the smaller loss), `uncertainty` (Kendall et al. 2018, one log-variance per
            loss; settles at weights `1 / L`), `fixed` (`s = balance_fixed_weight`), `gradnorm` (both heads train
            on their own loss, `L = L_jepa + L_mlm`, and the JEPA gradient entering the shared encoder is scaled so
            that the two objectives' gradient norms there stand in the ratio `balance_target_ratio`, from running
            estimates; GradNorm's fixed point, Chen et al. 2018) or `loss_scale` (each loss divided by a running
            mean of itself, then weighted `balance_fixed_weight` : `1 - balance_fixed_weight`).
        balance_init: initial value of the sigmoid logit `w` (0 in the paper, so `s = 0.5`).
        balance_fixed_weight: the JEPA weight `s` of the `fixed` balance, and of the normalised JEPA loss in
            `loss_scale`.
        balance_target_ratio: `gradnorm`: the wanted ratio MLM : JEPA of the gradient norms at the encoder (1 = equal).
        balance_ema_decay: `gradnorm` and `loss_scale`: decay of the running estimates (gradient norms, losses),
            updated after every optimizer step; 0.9 averages over about the last 10 steps, short enough to follow
            the gradient gap as it grows while the JEPA loss falls (0.99 lagged it by about 100 steps).
        balance_max_scale: `gradnorm`: the factor on the JEPA gradient at the encoder stays in
            `[1 / balance_max_scale, balance_max_scale]`: the largest gradient gap it can equalise. In the paper's
            `blocks` hybrid on Wikipedia the gap grew from about 3,000 to beyond 100,000 within 700 steps.
        uncertainty_min_log_var: lower bound of the uncertainty log-variances, so a JEPA loss that collapses to
            zero cannot get an unbounded weight (at most `exp(-min)`).
        predictor_hidden_size, predictor_num_hidden_layers, predictor_num_attention_heads,
        predictor_intermediate_size: the predictor transformer (its own depth and width).
        tie_word_embeddings: tie the MLM decoder to the input embeddings (BERT does).
    """

    model_type = "jepa_mlm"

    def __init__(
        self,
        vocab_size: int = 30522,
        hidden_size: int = 512,
        num_hidden_layers: int = 6,
        num_attention_heads: int = 8,
        intermediate_size: int = 2048,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        layer_norm_eps: float = 1e-12,
        initializer_range: float = 0.02,
        pad_token_id: int = 0,
        mask_token_id: int = 103,
        layer_norm_position: str = "post",
        position_embedding_type: str = "absolute",
        pooling: str = "mean",
        objective: str = "hybrid",
        jepa_context: str = "blocks",
        jepa_loss: str = "cosine",
        jepa_target_layers: int = 1,
        smooth_l1_beta: float = 1.0,
        balance: str = "sigmoid",
        balance_init: float = 0.0,
        balance_fixed_weight: float = 0.5,
        balance_target_ratio: float = 1.0,
        balance_ema_decay: float = 0.9,
        balance_max_scale: float = 1e7,
        uncertainty_min_log_var: float = -4.0,
        predictor_hidden_size: int = 256,
        predictor_num_hidden_layers: int = 2,
        predictor_num_attention_heads: int = 4,
        predictor_intermediate_size: int = 1024,
        tie_word_embeddings: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_map", dict(AUTO_MAP))
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.tie_word_embeddings = tie_word_embeddings
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.mask_token_id = mask_token_id
        self.layer_norm_position = layer_norm_position
        self.position_embedding_type = position_embedding_type
        self.pooling = pooling
        self.objective = objective
        self.jepa_context = jepa_context
        self.jepa_loss = jepa_loss
        self.jepa_target_layers = jepa_target_layers
        self.smooth_l1_beta = smooth_l1_beta
        self.balance = balance
        self.balance_init = balance_init
        self.balance_fixed_weight = balance_fixed_weight
        self.balance_target_ratio = balance_target_ratio
        self.balance_ema_decay = balance_ema_decay
        self.balance_max_scale = balance_max_scale
        self.uncertainty_min_log_var = uncertainty_min_log_var
        self.predictor_hidden_size = predictor_hidden_size
        self.predictor_num_hidden_layers = predictor_num_hidden_layers
        self.predictor_num_attention_heads = predictor_num_attention_heads
        self.predictor_intermediate_size = predictor_intermediate_size
        self.validate()

    @property
    def has_jepa(self) -> bool:
        """True when the objective builds a target encoder and a predictor."""
        return self.objective in ("hybrid", "jepa")

    @property
    def has_mlm(self) -> bool:
        """True when the objective trains the MLM head."""
        return self.objective in ("hybrid", "mlm")

    def validate(self) -> None:
        """Raise `ValueError` naming the first invalid field and the values it accepts."""
        for field in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
            "jepa_target_layers",
            "predictor_hidden_size",
            "predictor_num_hidden_layers",
            "predictor_num_attention_heads",
            "predictor_intermediate_size",
        ):
            _check_positive_int(field, getattr(self, field))
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"JepaMlmConfig.hidden_size={self.hidden_size} is not valid; accepted values: a multiple of "
                f"num_attention_heads={self.num_attention_heads}"
            )
        if self.predictor_hidden_size % self.predictor_num_attention_heads:
            raise ValueError(
                f"JepaMlmConfig.predictor_hidden_size={self.predictor_hidden_size} is not valid; accepted values: "
                f"a multiple of predictor_num_attention_heads={self.predictor_num_attention_heads}"
            )
        if self.jepa_target_layers > self.num_hidden_layers:
            raise ValueError(
                f"JepaMlmConfig.jepa_target_layers={self.jepa_target_layers} is not valid; accepted values: "
                f"1..num_hidden_layers={self.num_hidden_layers}"
            )
        _check_choice("hidden_act", self.hidden_act, HIDDEN_ACTS)
        _check_choice("layer_norm_position", self.layer_norm_position, LAYER_NORM_POSITIONS)
        _check_choice("position_embedding_type", self.position_embedding_type, POSITION_EMBEDDING_TYPES)
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("objective", self.objective, OBJECTIVES)
        _check_choice("jepa_context", self.jepa_context, JEPA_CONTEXTS)
        _check_choice("jepa_loss", self.jepa_loss, JEPA_LOSSES)
        _check_choice("balance", self.balance, BALANCES)
        _check_range("hidden_dropout_prob", self.hidden_dropout_prob, 0.0, 1.0)
        _check_range("attention_probs_dropout_prob", self.attention_probs_dropout_prob, 0.0, 1.0)
        _check_range("balance_fixed_weight", self.balance_fixed_weight, 0.0, 1.0)
        _check_range("balance_ema_decay", self.balance_ema_decay, 0.0, 0.999999)
        _check_range("balance_max_scale", self.balance_max_scale, 1.0, float("inf"))
        _check_positive_number("balance_target_ratio", self.balance_target_ratio)
        _check_positive_number("smooth_l1_beta", self.smooth_l1_beta)
        for field in ("pad_token_id", "mask_token_id"):
            value = getattr(self, field)
            if not (isinstance(value, int) and 0 <= value < self.vocab_size):
                raise ValueError(
                    f"JepaMlmConfig.{field}={value!r} is not valid; accepted values: an id in [0, {self.vocab_size})"
                )
