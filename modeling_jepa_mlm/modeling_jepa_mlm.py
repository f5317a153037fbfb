"""The jepa-mlm encoder, its MLM / classification heads, and the hybrid JEPA + MLM pre-training model.

Pre-training batch contract (`JepaMlmForPreTraining.forward`; all tensors (B, L) unless stated):

- `input_ids` (long): the BERT-masked sequence (MLM branch; the online pass of the `shared` mode).
- `attention_mask` (long/bool): 1 for real tokens, 0 for padding.
- `labels` (long): the original id at MLM-selected positions, -100 elsewhere. In `shared` mode these
  positions are also the JEPA targets.
- `clean_input_ids` (long): the uncorrupted sequence, read by the EMA target encoder and, in `blocks` mode,
  by the online context pass. Required whenever the objective has a JEPA term.
- `context_mask` (bool, `blocks` mode): the context block, disjoint from every target block, no padding.
- `target_masks` (bool, (B, K, L), `blocks` mode): target block k of each sequence.
- `token_type_ids` (long, optional).

The data collator in `modeling_jepa_mlm.training.collator` produces exactly these keys.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    SequenceClassifierOutput,
)
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import ModelOutput, can_return_tuple

from .configuration_jepa_mlm import STATEFUL_BALANCES, JepaMlmConfig
from .ema import ema_update_
from .losses import (
    fixed_balance,
    gradient_ratio_scale,
    gradient_share,
    jepa_loss,
    loss_scale_balance,
    normalize_targets,
    running_mean,
    scale_gradient,
    sigmoid_balance,
    uncertainty_balance,
)
from .pooling import POOLERS_NEEDING_HIDDEN_STATES, get_pooler

logger = logging.getLogger(__name__)


@torch.compiler.disable  # its width is data-dependent: traced, the symbolic slice breaks inductor (torch 2.13)
def gather_tokens(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the True positions of each row, left-aligned and padded to the longest row.

    Args:
        mask: (B, L) bool.

    Returns:
        index (B, M) long, positions in [0, L) in increasing order (padding slots repeat position 0), and
        valid (B, M) bool, with `M = max_b sum_t mask[b, t]`.
    """
    counts = mask.sum(dim=1)  # (B,)
    width = int(counts.max()) if mask.numel() else 0
    # A stable sort on ~mask puts the True positions first, in their original order.
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices[:, :width]  # (B, M)
    valid = torch.arange(width, device=mask.device).unsqueeze(0) < counts.unsqueeze(1)  # (B, M)
    return order.masked_fill(~valid, 0), valid


class JepaMlmEmbeddings(nn.Module):
    """Word + absolute position + token type embeddings, then LayerNorm and dropout (BERT). With
    `position_embedding_type="alibi"` there is no position table: positions enter as attention biases."""

    def __init__(self, config: JepaMlmConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.position_embeddings = (
            nn.Embedding(config.max_position_embeddings, config.hidden_size)
            if config.position_embedding_type == "absolute"
            else None
        )
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.max_position_embeddings = config.max_position_embeddings

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.word_embeddings(input_ids)  # (B, L, D)
        if self.position_embeddings is not None:
            seq_len = input_ids.shape[1]
            if position_ids is None:
                if seq_len > self.max_position_embeddings:
                    raise ValueError(
                        f"sequence length {seq_len} exceeds max_position_embeddings={self.max_position_embeddings}"
                    )
                position_ids = torch.arange(seq_len, device=input_ids.device).unsqueeze(0)
            x = x + self.position_embeddings(position_ids)
        if token_type_ids is None:
            x = x + self.token_type_embeddings.weight[0]
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`softmax(q k^T * scaling, masked) v` (Vaswani et al. 2017), the `eager` entry beside transformers'
    `ALL_ATTENTION_FUNCTIONS` (as in transformers' BERT).

    Args:
        query: (B, H, Q, Dh); key, value: (B, H, L, Dh); attention_mask: (B, 1, 1 or Q, L) bool, True where a key
            may be attended, or a float bias added to the scores ((B or 1, H, Q, L), ALiBi), or None.

    Returns:
        the attended values (B, Q, H, Dh) and the attention probabilities (B, H, Q, L).
    """
    scores = (query @ key.transpose(-1, -2)) * scaling  # (B, H, Q, L)
    if attention_mask is not None and attention_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
    elif attention_mask is not None:
        scores = scores + attention_mask
    probs = F.dropout(scores.softmax(dim=-1), p=dropout, training=module.training)
    return (probs @ value).transpose(1, 2).contiguous(), probs


class JepaMlmAttention(nn.Module):
    """Multi-head self-attention with one fused QKV projection; the kernel is `config._attn_implementation`
    (`sdpa` by default, through transformers' `ALL_ATTENTION_FUNCTIONS`, or `eager`)."""

    is_causal = False  # read by transformers' attention functions: an encoder attends both ways

    def __init__(self, config: JepaMlmConfig, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.scaling = self.head_dim**-0.5
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        query_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`attention_mask`: (B, 1, 1, L) bool, True where a key may be attended, or None for no padding; or a
        float bias (B or 1, H, L, L) added to the scores (ALiBi, padding already in it as a large negative).

        `query_index` (B, Q) long: compute the outputs at these positions only (queries there, keys and values
        everywhere), (B, Q, D); the Q rows of the projection are applied only there.
        """
        batch, seq_len, width = hidden_states.shape
        if query_index is None:
            qkv = self.qkv(hidden_states).view(batch, seq_len, 3, self.num_heads, self.head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, L, Dh)
            num_queries = seq_len
        else:
            w_q, w_kv = self.qkv.weight.split([width, 2 * width])
            b_q, b_kv = self.qkv.bias.split([width, 2 * width])
            kv = F.linear(hidden_states, w_kv, b_kv).view(batch, seq_len, 2, self.num_heads, self.head_dim)
            k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, L, Dh)
            num_queries = query_index.shape[1]
            queries = hidden_states.gather(1, query_index.unsqueeze(-1).expand(-1, -1, width))  # (B, Q, D)
            q = (
                F.linear(queries, w_q, b_q)
                .view(batch, num_queries, self.num_heads, self.head_dim)
                .transpose(1, 2)
            )
        if attention_mask is not None and attention_mask.is_floating_point():
            if query_index is not None:  # the bias rows of the queries
                rows = attention_mask.expand(batch, -1, -1, -1)
                index = query_index[:, None, :, None].expand(-1, rows.shape[1], -1, rows.shape[-1])
                attention_mask = rows.gather(2, index)  # (B, H, Q, L)
            attention_mask = attention_mask.to(q.dtype)  # SDPA takes a float mask in the query's dtype
        implementation = self.config._attn_implementation or "sdpa"
        attend = (
            eager_attention_forward if implementation == "eager" else ALL_ATTENTION_FUNCTIONS[implementation]
        )
        context, _ = attend(
            self,
            q,
            k,
            v,
            attention_mask,
            dropout=self.dropout_p if self.training else 0.0,
            scaling=self.scaling,
        )  # (B, Q, H, Dh)
        return self.dense(context.reshape(batch, num_queries, width))


class JepaMlmLayer(GradientCheckpointingLayer):
    """Transformer block. Post-LN (BERT, `layer_norm_position="post"`): attention, residual, LN; feed-forward,
    residual, LN. Pre-LN (`"pre"`, Xiong et al. 2020): LN, attention, residual; LN, feed-forward, residual."""

    def __init__(
        self,
        config: JepaMlmConfig,
        hidden_size: int | None = None,
        num_heads: int | None = None,
        intermediate_size: int | None = None,
    ) -> None:
        super().__init__()
        hidden_size = hidden_size or config.hidden_size
        self.attention = JepaMlmAttention(config, hidden_size, num_heads or config.num_attention_heads)
        self.attention_norm = nn.LayerNorm(hidden_size, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(hidden_size, intermediate_size or config.intermediate_size)
        self.act = ACT2FN[config.hidden_act]
        self.output = nn.Linear(intermediate_size or config.intermediate_size, hidden_size)
        self.output_norm = nn.LayerNorm(hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.pre_norm = config.layer_norm_position == "pre"

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        query_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, L, D) -> (B, L, D), or (B, Q, D) at the positions `query_index` (B, Q) only: everything after the
        key/value projection is per position, so those rows equal the full output's."""
        residual = hidden_states
        if query_index is not None:
            residual = hidden_states.gather(
                1, query_index.unsqueeze(-1).expand(-1, -1, hidden_states.shape[-1])
            )
        if self.pre_norm:
            attended = self.attention(self.attention_norm(hidden_states), attention_mask, query_index)
            x = residual + self.dropout(attended)
            return x + self.dropout(self.output(self.act(self.intermediate(self.output_norm(x)))))
        x = self.attention_norm(
            residual + self.dropout(self.attention(hidden_states, attention_mask, query_index))
        )
        return self.output_norm(x + self.dropout(self.output(self.act(self.intermediate(x)))))


def _attention_bias(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """(B, L) 0/1 -> (B, 1, 1, L) bool key mask; None when there is no padding, so SDPA may take its flash path.

    The check reads one bool from the device, once per encoder pass; under `torch.compile` it is a graph break
    between the embeddings and the layers, the price of keeping packed batches on the flash kernel there too.
    Kept instead of transformers' `masking_utils.create_bidirectional_mask`, which builds a (B, 1, L, L) mask for
    queries at every position: the context pass, the predictor and the target encoder's last layer attend from a
    gathered subset of queries (`query_index`), which needs the key-only (B, 1, 1, L) form.
    """
    if attention_mask is None:
        return None
    mask = attention_mask.bool()
    if bool(mask.all()):
        return None
    return mask[:, None, None, :]


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """ALiBi's head slopes (Press et al. 2022): the geometric sequence `2^(-8 h / n)`, h = 1..n, for the power of
    two n at or below `num_heads`, then every other slope of the sequence for 2n for the remaining heads."""
    closest = 2 ** math.floor(math.log2(num_heads))
    slopes = [2 ** (-8 * h / closest) for h in range(1, closest + 1)]
    if closest < num_heads:
        slopes += [2 ** (-8 * h / (2 * closest)) for h in range(1, 2 * closest + 1, 2)][: num_heads - closest]
    return torch.tensor(slopes)


def _alibi_bias(
    attention_mask: torch.Tensor, position_ids: torch.Tensor | None, num_heads: int
) -> torch.Tensor:
    """Symmetric ALiBi: (B or 1, H, L, L) float bias `-m_h |p_i - p_j|` from the tokens' positions `p` (their
    original positions when a gathered subset is encoded), with padded keys at the float minimum."""
    seq_len = attention_mask.shape[1]
    if position_ids is None:
        position_ids = torch.arange(seq_len, device=attention_mask.device).unsqueeze(0)  # (1, L)
    positions = position_ids.float()
    distance = (positions[:, :, None] - positions[:, None, :]).abs()  # (B or 1, L, L)
    slopes = alibi_slopes(num_heads).to(distance.device)
    bias = -slopes[None, :, None, None] * distance[:, None]  # (B or 1, H, L, L)
    keys = _attention_bias(attention_mask)
    if keys is not None:
        bias = bias.masked_fill(~keys, torch.finfo(bias.dtype).min)
    return bias


def _check_vocab(input_ids: torch.Tensor, vocab_size: int) -> None:
    """Fail with a clear message, not a device-side index error, when ids do not fit the vocabulary."""
    if torch.compiler.is_compiling() or input_ids.numel() == 0:
        return
    smallest, largest = (int(v) for v in torch.aminmax(input_ids))  # one pass, one device sync
    if largest >= vocab_size or smallest < 0:
        raise ValueError(
            f"input_ids hold id {largest}, outside [0, vocab_size={vocab_size}): the tokenizer does not match "
            "this model's vocabulary"
        )


class JepaMlmPreTrainedModel(PreTrainedModel):
    config_class = JepaMlmConfig
    config: JepaMlmConfig
    base_model_prefix = "jepa_mlm"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["JepaMlmLayer"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """BERT's initialisation: normal(0, initializer_range) weights, zero biases, unit LayerNorms."""
        super()._init_weights(module)
        if isinstance(module, JepaMlmPredictor) and module.mask_token is not None:
            init.normal_(module.mask_token, std=self.config.initializer_range)
        elif isinstance(module, JepaMlmBalance):
            if module.logit is not None:
                init.constant_(module.logit, self.config.balance_init)
            if module.log_vars is not None:
                init.zeros_(module.log_vars)
            for buffer in module.buffers(recurse=False):  # the running estimates start empty
                init.zeros_(buffer)
        elif isinstance(module, JepaMlmLMHead):
            init.zeros_(module.bias)


class JepaMlmModel(JepaMlmPreTrainedModel):
    """The encoder: embeddings and a stack of `JepaMlmLayer`; `pooler_output` follows `config.pooling`."""

    # A pre-training checkpoint holds the online encoder under `jepa_mlm.` plus these; loading it here gives the
    # online encoder, and the rest is dropped on purpose.
    _keys_to_ignore_on_load_unexpected = [
        r"target_encoder\.",
        r"predictor\.",
        r"lm_head\.",
        r"balance\.",
        r"classifier\.",
    ]

    def __init__(self, config: JepaMlmConfig) -> None:
        super().__init__(config)
        self.embeddings = JepaMlmEmbeddings(config)
        self.layers = nn.ModuleList([JepaMlmLayer(config) for _ in range(config.num_hidden_layers)])
        # Pre-LN leaves the residual stream unnormalised: one more LayerNorm closes the stack (GPT-2, ModernBERT).
        self.final_norm = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
            if config.layer_norm_position == "pre"
            else None
        )
        self.pooler = get_pooler(config.pooling)
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def attention_bias(
        self, attention_mask: torch.Tensor, position_ids: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        """What every layer's attention reads: the (B, 1, 1, L) bool key mask (None without padding), or with
        `position_embedding_type="alibi"` the (B or 1, H, L, L) float ALiBi bias with padding in it."""
        if self.config.position_embedding_type == "alibi":
            return _alibi_bias(attention_mask, position_ids, self.config.num_attention_heads)
        return _attention_bias(attention_mask)

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
    ) -> BaseModelOutputWithPooling:
        """Encode a batch (`return_dict=False` gives a tuple, through transformers' `can_return_tuple`).

        Args:
            input_ids: (B, L) token ids.
            attention_mask: (B, L), 1 for real tokens and 0 for padding; None means no padding.
            token_type_ids: (B, L) segment ids, optional.
            position_ids: (B, L) absolute positions, optional (the context pass of `blocks` mode reads a
                gathered subset of tokens at their original positions).
            output_hidden_states: also return the embeddings and every layer's output.

        Returns:
            `BaseModelOutputWithPooling` with `last_hidden_state` (B, L, D), `pooler_output` (B, D) and, if
            asked, `hidden_states` (num_hidden_layers + 1 tensors of (B, L, D)).
        """
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        _check_vocab(input_ids, self.config.vocab_size)
        keep_all = output_hidden_states or self.config.pooling in POOLERS_NEEDING_HIDDEN_STATES
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        bias = self.attention_bias(attention_mask, position_ids)
        x = self.embeddings(input_ids, token_type_ids, position_ids)  # (B, L, D)
        all_states = [x] if keep_all else None
        for i, layer in enumerate(self.layers):
            x = layer(x, bias)
            if self.final_norm is not None and i == len(self.layers) - 1:
                x = self.final_norm(x)
            if all_states is not None:
                all_states.append(x)
        pooled = self.pooler(x, attention_mask, all_states)
        return BaseModelOutputWithPooling(
            last_hidden_state=x,
            pooler_output=pooled,
            hidden_states=tuple(all_states) if output_hidden_states else None,
        )


class JepaMlmLMHead(nn.Module):
    """BERT's MLM head: dense, activation, LayerNorm, then the decoder tied to the input embeddings."""

    def __init__(self, config: JepaMlmConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., V) logits."""
        return self.decoder(self.norm(self.act(self.dense(hidden_states)))) + self.bias


class JepaMlmPredictor(nn.Module):
    """The JEPA predictor: a small transformer of its own width and depth (I-JEPA's `VisionTransformerPredictor`).

    It reads the online encoder's states (projected to the predictor width) plus, in `blocks` mode, one learned
    mask token per target position, each with a position embedding, and maps its outputs back to the
    encoder width.
    """

    def __init__(self, config: JepaMlmConfig) -> None:
        super().__init__()
        width = config.predictor_hidden_size
        self.embed = nn.Linear(config.hidden_size, width)
        # Only `blocks` mode queries mask tokens; `shared` has none, so DDP sees no unused parameter.
        self.mask_token = nn.Parameter(torch.zeros(width)) if config.jepa_context == "blocks" else None
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, width)
        self.layers = nn.ModuleList(
            [
                JepaMlmLayer(
                    config,
                    hidden_size=width,
                    num_heads=config.predictor_num_attention_heads,
                    intermediate_size=config.predictor_intermediate_size,
                )
                for _ in range(config.predictor_num_hidden_layers)
            ]
        )
        self.norm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.proj = nn.Linear(width, config.hidden_size)

    def forward(
        self,
        states: torch.Tensor,
        positions: torch.Tensor,
        valid: torch.Tensor,
        query_positions: torch.Tensor | None = None,
        query_valid: torch.Tensor | None = None,
        repeats: int = 1,
        output_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict target representations.

        Args:
            states: (B, M, D) online encoder states.
            positions: (B, M) their positions in the original sequence.
            valid: (B, M) bool, False on padding slots.
            query_positions: (B * repeats, Q) positions to predict with mask tokens (`blocks` mode); None
                predicts at the input slots themselves (`shared` mode).
            query_valid: (B * repeats, Q) bool.
            repeats: how many consecutive query rows read each input row (`blocks` mode: one per target block).
                The inputs are embedded once and then repeated, which equals repeating them before.
            output_mask: (B * repeats, Q) bool (or (B, M) without queries); when given, only these outputs are
                normalised, projected and returned, flattened. Both are per token, so the values are those of
                the full output at these positions.

        Returns:
            (B * repeats, Q, D) predictions at the queries, or (B, M, D) at the inputs when there are no
            queries; (N, D) at the `output_mask` positions when it is given.
        """
        x = self.embed(states) + self.position_embeddings(positions)  # (B, M, Dp)
        mask = valid
        if repeats > 1:
            x, mask = x.repeat_interleave(repeats, dim=0), mask.repeat_interleave(repeats, dim=0)
        if query_positions is not None:
            queries = self.mask_token + self.position_embeddings(query_positions)  # (B * repeats, Q, Dp)
            x = torch.cat([x, queries], dim=1)
            mask = torch.cat([mask, query_valid], dim=1)
        bias = _attention_bias(mask)
        for layer in self.layers:
            x = layer(x, bias)
        if query_positions is not None:
            x = x[:, states.shape[1] :]
        if output_mask is not None:
            x = x[output_mask]  # (N, Dp)
        return self.proj(self.norm(x))


# What one training forward records about the two branches (see `JepaMlmBalance.measurements`): the norms of
# the gradients reaching the encoder states each branch reads, and the gradients reaching each loss and the total.
GRADIENT_RECORD_KEYS = ("grad_jepa", "grad_mlm", "dloss_jepa", "dloss_mlm", "dloss_total")


class JepaMlmBalance(nn.Module):
    """The balance between the two losses: one logit (`sigmoid`), two log-variances (`uncertainty`), a constant
    (`fixed`), or running estimates (`gradnorm`: the two gradient norms at the encoder, which set the factor on
    the JEPA gradient entering the encoder, see `jepa_branch`; `loss_scale`: the two losses). Its parameters are never weight-decayed (see the trainer); its running estimates are persistent
    buffers, so a checkpoint's `model.safetensors` carries them and a resumed run continues exactly.

    Gradient measurement (every balance). While recording (`start_recording()`, which the trainer calls), every
    training forward appends a record whose tensor hooks, during the ordinary backward pass, store
    `||dL/dH_mlm||` and `||dL/dH_jepa||`: the norms of the gradient of the backpropagated loss with respect to the
    encoder's last hidden states as each head reads them (`blocks`: the masked-sequence pass for MLM, the context
    pass for JEPA; `shared`: two views of the one pass, so the branches stay apart), plus `dL/dL_jepa`,
    `dL/dL_mlm` and `dL/dL_total`. The cost is two vector norms over (B, L, D) states and three scalars a step,
    no extra backward and no device sync; the hooks read the gradients and never change them, so training is
    bit-identical with or without them. `measurements()` turns the records into the weighted norms (what each
    term contributes; the common scale of gradient accumulation cancels through `dL/dL_total`), the MLM share and
    the unweighted norms `||dL_x/dH||` that `gradnorm` tracks.

    Why the hidden states are a faithful proxy: every gradient either objective sends into the encoder's
    parameters passes through these states (`dL/dtheta = (dH/dtheta)^T dL/dH`), so with the encoder's Jacobian
    common to both terms their ratio at `H` sets the ratio of the encoder updates, up to how the two directions
    align with that Jacobian. Measuring at the parameters instead would take one more backward per objective.
    """

    def __init__(self, config: JepaMlmConfig) -> None:
        super().__init__()
        self.mode = config.balance
        self.fixed_weight = config.balance_fixed_weight
        self.min_log_var = config.uncertainty_min_log_var
        self.target_ratio = config.balance_target_ratio
        self.ema_decay = config.balance_ema_decay
        self.max_scale = config.balance_max_scale
        self.logit = (
            nn.Parameter(torch.full((), float(config.balance_init))) if self.mode == "sigmoid" else None
        )
        self.log_vars = nn.Parameter(torch.zeros(2)) if self.mode == "uncertainty" else None
        if self.mode == "gradnorm":
            self.register_buffer("log_grad_norms", torch.zeros(2))  # running `[log G_j, log G_m]`
        if self.mode == "loss_scale":
            self.register_buffer("loss_scales", torch.zeros(2))  # running `[L_jepa, L_mlm]`
        if self.is_stateful:
            self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self.records: list[dict[str, torch.Tensor]] | None = None

    @property
    def is_stateful(self) -> bool:
        """True when the weights follow running estimates that `update_` must be fed after every step."""
        return self.mode in STATEFUL_BALANCES

    def forward(self, jepa: torch.Tensor, mlm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (total loss, JEPA weight)."""
        if self.mode == "sigmoid":
            return sigmoid_balance(jepa, mlm, self.logit)
        if self.mode == "uncertainty":
            return uncertainty_balance(jepa, mlm, self.log_vars, self.min_log_var)
        if self.mode == "gradnorm":
            # Each head on its own loss; the balance acts on the JEPA gradient entering the encoder (`jepa_branch`).
            # Reported: the JEPA's normalised weight there, `lambda / (1 + lambda)`.
            scale = self.jepa_scale()
            return jepa + mlm, scale / (1.0 + scale)
        if self.mode == "loss_scale":
            # Before the first update the scales are this batch's own losses (each normalised loss is 1).
            measured = torch.stack([jepa.detach(), mlm.detach()]).float()
            scales = torch.where(self.num_updates > 0, self.loss_scales, measured)
            return loss_scale_balance(jepa, mlm, scales, self.fixed_weight)
        return fixed_balance(jepa, mlm, self.fixed_weight)

    def jepa_scale(self) -> torch.Tensor:
        """`gradnorm`: the factor `lambda` on the JEPA gradient at the encoder (`gradient_ratio_scale`) from the
        running estimates; `1 / balance_target_ratio` before the first measurement. 1 for the other balances."""
        if self.mode != "gradnorm":
            return torch.ones(())
        return gradient_ratio_scale(self.log_grad_norms, self.target_ratio, self.max_scale)

    def jepa_branch(self, hidden: torch.Tensor, record: dict | None) -> torch.Tensor:
        """The encoder states as the JEPA head reads them. Under `gradnorm` in training, the gradient the head sends
        back is multiplied by `jepa_scale()` on its way into the encoder (and the factor is recorded); the norm
        hook (`record["grad_jepa"]`) sits on the head's side, so it measures the unscaled `||dL/dH_jepa||`."""
        if self.mode == "gradnorm" and self.training and torch.is_grad_enabled():
            scale = self.jepa_scale()
            if record is not None:
                record["jepa_scale"] = scale
            hidden = scale_gradient(hidden, scale)
        return _watch_norm(hidden, record, "grad_jepa")

    @torch.no_grad()
    def update_(self, grad_norms: torch.Tensor, losses: torch.Tensor) -> None:
        """Fold one optimizer step's measurements into the running estimates (a no-op for stateless balances).

        Args:
            grad_norms: (2,) unweighted `[||dL_jepa/dH||, ||dL_mlm/dH||]` of the step (`measurements()`), already
                averaged over micro-batches and, under DDP, over processes so that every rank agrees.
            losses: (2,) `[L_jepa, L_mlm]` of the step, averaged likewise.
        """
        if self.mode == "gradnorm":
            self.log_grad_norms.copy_(
                running_mean(self.log_grad_norms, grad_norms.float().log(), self.ema_decay, self.num_updates)
            )
        elif self.mode == "loss_scale":
            self.loss_scales.copy_(
                running_mean(self.loss_scales, losses.float(), self.ema_decay, self.num_updates)
            )
        else:
            return
        self.num_updates += 1

    def start_recording(self) -> None:
        """Record the branches' gradients at every training forward from now on (see the class docstring)."""
        self.records = []

    def new_record(self) -> dict[str, torch.Tensor] | None:
        """A fresh record for this forward's hooks, or None when not recording."""
        if self.records is None or not (self.training and torch.is_grad_enabled()):
            return None
        record: dict[str, torch.Tensor] = {}
        self.records.append(record)
        return record

    def measurements(self) -> dict[str, torch.Tensor] | None:
        """Drain the records of the backward passes since the last call (one optimizer step's micro-batches).

        Returns:
            None when no record is complete; else (n,) float32 tensors over the n micro-batches: `grad_norm_jepa`,
            `grad_norm_mlm` (weighted: `||dL/dH_x|| / (dL/dL_total)`, times `jepa_scale` for JEPA under
            `gradnorm`: each term's contribution to the gradient the encoder receives), `grad_share_mlm` (`g_mlm / (g_mlm + g_jepa)`), `raw_grad_jepa`, `raw_grad_mlm`
            (unweighted `||dL_x/dH||`; NaN where a weight is 0), `jepa_loss`, `mlm_loss`.
        """
        if not self.records:
            return None
        records, self.records = self.records, []
        complete = [
            r for r in records if all(k in r for k in (*GRADIENT_RECORD_KEYS, "jepa_loss", "mlm_loss"))
        ]
        if not complete:
            return None
        stacked = {k: torch.stack([r[k] for r in complete]).float() for k in complete[0]}
        # `gradnorm` multiplies the JEPA gradient by `jepa_scale` between the measuring hook and the encoder.
        weighted_jepa = stacked["grad_jepa"] * stacked.get("jepa_scale", 1.0) / stacked["dloss_total"]
        weighted_mlm = stacked["grad_mlm"] / stacked["dloss_total"]
        return {
            "grad_norm_jepa": weighted_jepa,
            "grad_norm_mlm": weighted_mlm,
            "grad_share_mlm": gradient_share(weighted_mlm, weighted_jepa),
            "raw_grad_jepa": stacked["grad_jepa"] / stacked["dloss_jepa"],
            "raw_grad_mlm": stacked["grad_mlm"] / stacked["dloss_mlm"],
            "jepa_loss": stacked["jepa_loss"],
            "mlm_loss": stacked["mlm_loss"],
        }


def _watch_norm(hidden: torch.Tensor, record: dict | None, key: str) -> torch.Tensor:
    """`hidden` itself, or a view of it whose gradient's norm the backward pass stores in `record[key]`; a view, so
    a tensor read by two heads gets one hook per head. The hook returns None: the gradient is left untouched."""
    if record is None:
        return hidden
    view = hidden.view_as(hidden)
    view.register_hook(lambda grad: record.__setitem__(key, grad.detach().float().norm()))
    return view


def _watch_value(loss: torch.Tensor, record: dict | None, key: str) -> None:
    """Store `dL/dloss` (a scalar: the weight the backpropagated total gives `loss`) in `record[key]`."""
    if record is not None:
        loss.register_hook(lambda grad: record.__setitem__(key, grad.detach().float()))


@dataclass
class JepaMlmPreTrainingOutput(ModelOutput):
    """Output of `JepaMlmForPreTraining`.

    Attributes:
        loss: the objective's total (balanced in `hybrid`).
        mlm_loss: cross-entropy over MLM-selected positions (None for `jepa`).
        mlm_accuracy: top-1 accuracy of the MLM head at those positions, detached (None for `jepa`).
        jepa_loss: the latent-prediction loss (None for `mlm`).
        balance_weight: the JEPA weight `s` of the balance (None unless `hybrid`).
        target_std, prediction_std: mean over dimensions of the standard deviation across target tokens of the
            targets and of the predictions; a JEPA loss near 0 with `target_std` near 0 is a collapse.
    """

    loss: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    mlm_accuracy: torch.Tensor | None = None
    jepa_loss: torch.Tensor | None = None
    balance_weight: torch.Tensor | None = None
    target_std: torch.Tensor | None = None
    prediction_std: torch.Tensor | None = None


def _batch_std(x: torch.Tensor) -> torch.Tensor:
    """(N, D) -> mean_d std_n x[n, d], detached, for the collapse watch."""
    if x.shape[0] < 2:
        return x.new_zeros(())
    return x.detach().float().std(dim=0).mean()


class JepaMlmForPreTraining(JepaMlmPreTrainedModel):
    """Online encoder + MLM head (decoder tied to the input embeddings) + predictor + EMA target encoder
    (frozen submodule) + balance, for the objectives `mlm`, `jepa` and `hybrid` (see the module docstring for
    the batch contract). With `objective="mlm"` neither the target encoder nor the predictor is built."""

    _tied_weights_keys = {"lm_head.decoder.weight": "jepa_mlm.embeddings.word_embeddings.weight"}
    # The forward does not scale its loss by `num_items_in_batch`, so the Trainer must do it.
    accepts_loss_kwargs = False

    def __init__(self, config: JepaMlmConfig) -> None:
        super().__init__(config)
        self.jepa_mlm = JepaMlmModel(config)
        self.lm_head = JepaMlmLMHead(config) if config.has_mlm else None
        if self.lm_head is None:
            self._tied_weights_keys = {}  # `jepa` has no MLM head to tie
        if config.has_jepa:
            self.predictor = JepaMlmPredictor(config)
            self.target_encoder = JepaMlmModel(config)
            self.target_encoder.requires_grad_(False)
            self.target_encoder.eval()
        else:
            self.predictor = None
            self.target_encoder = None
        self.balance = JepaMlmBalance(config) if config.objective == "hybrid" else None
        self.post_init()
        self.reset_target_encoder_()

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """As `PreTrainedModel.from_pretrained`; a checkpoint without target-encoder weights (an encoder or an
        MLM checkpoint) starts the target encoder as a copy of the online encoder, as a fresh model does."""
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(*args, output_loading_info=True, **kwargs)
        if model.target_encoder is not None and any(
            k.startswith("target_encoder.") for k in info["missing_keys"]
        ):
            logger.info("checkpoint has no target encoder: initialising it as a copy of the online encoder")
            model.reset_target_encoder_()
            info["missing_keys"] = {k for k in info["missing_keys"] if not k.startswith("target_encoder.")}
        return (model, info) if want_info else model

    def get_output_embeddings(self) -> nn.Linear | None:
        return self.lm_head.decoder if self.lm_head is not None else None

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head.decoder = new_embeddings

    def train(self, mode: bool = True) -> JepaMlmForPreTraining:
        """The target encoder stays in eval mode (no dropout) whatever the mode of the rest."""
        super().train(mode)
        if self.target_encoder is not None:
            self.target_encoder.eval()
        return self

    def _ema_pairs(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Target and online parameters matched by name."""
        online = dict(self.jepa_mlm.named_parameters())
        target = dict(self.target_encoder.named_parameters())
        if online.keys() != target.keys():
            raise RuntimeError(
                f"online/target parameter names differ: {sorted(online.keys() ^ target.keys())}"
            )
        names = sorted(online)
        return [target[n] for n in names], [online[n] for n in names]

    @torch.no_grad()
    def update_target_encoder_(self, momentum: float) -> None:
        """One EMA step of the target encoder: `theta_t <- m theta_t + (1 - m) theta_o`, parameters matched by
        name, in place. A no-op without a target encoder (`objective="mlm"`)."""
        if self.target_encoder is None:
            return
        ema_update_(*self._ema_pairs(), momentum)

    @torch.no_grad()
    def reset_target_encoder_(self) -> None:
        """Copy the online encoder into the target encoder (an EMA step with momentum 0)."""
        if (
            self.target_encoder is not None
            and self.jepa_mlm.embeddings.word_embeddings.weight.device.type != "meta"
        ):
            self.update_target_encoder_(0.0)

    def export_encoder(self, which: str = "online") -> JepaMlmModel:
        """The encoder to publish: `online` (the default, what `AutoModel` loads from this checkpoint) or the
        EMA `target` encoder, an explicit choice that is logged.

        Returns:
            a `JepaMlmModel` with a copy of the chosen weights and this model's config.
        """
        if which not in ("online", "target"):
            raise ValueError(f"export_encoder(which={which!r}) is not valid; accepted values: online, target")
        if which == "target" and self.target_encoder is None:
            raise ValueError(
                f"objective={self.config.objective!r} has no target encoder to export; use 'online'"
            )
        source = self.jepa_mlm if which == "online" else self.target_encoder
        if which == "target":
            logger.warning("exporting the EMA target encoder, not the online encoder")
        encoder = JepaMlmModel(self.config)
        encoder.load_state_dict(source.state_dict())
        return encoder.to(device=source.device, dtype=source.dtype).eval()

    def _mlm_loss(self, hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy over the MLM-selected positions only; the vocabulary projection runs only there.

        Returns:
            (loss, top-1 accuracy at those positions (detached)), both scalars.
        """
        selected = labels != -100  # (B, L)
        logits = self.lm_head(hidden[selected])  # (N, V)
        targets = labels[selected]  # (N,)
        accuracy = (logits.detach().argmax(dim=-1) == targets).float().mean()
        return F.cross_entropy(logits.float(), targets), accuracy

    @torch.no_grad()
    def _targets(
        self, clean_input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None
    ) -> torch.Tensor:
        """The target encoder reads the full clean sequence with its attention mask. Returns (B, L, D) fp32."""
        k = self.config.jepa_target_layers
        out = self.target_encoder(
            clean_input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            output_hidden_states=k > 1,
        )
        states = out.hidden_states if k > 1 else (None, out.last_hidden_state)
        return normalize_targets(states, k)

    @torch.no_grad()
    def _targets_at(
        self,
        clean_input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None,
        selected: torch.Tensor,
    ) -> torch.Tensor:
        """`_targets(...)[selected]`, (N, D) fp32, computed without waste: the last target layer runs its queries,
        feed-forward and norms only at the `selected` (B, L) positions (keys and values everywhere), and only
        those positions are normalised."""
        encoder, k = self.target_encoder, self.config.jepa_target_layers
        _check_vocab(clean_input_ids, self.config.vocab_size)
        index, valid = gather_tokens(
            selected
        )  # (B, Q), row by row in increasing position: `[selected]` order
        bias = encoder.attention_bias(attention_mask)
        x = encoder.embeddings(clean_input_ids, token_type_ids)  # (B, L, D)
        lower = []
        for layer in encoder.layers[:-1]:
            x = layer(x, bias)
            lower.append(x)
        last = encoder.layers[-1](x, bias, query_index=index)[valid]  # (N, D)
        if encoder.final_norm is not None:
            last = encoder.final_norm(last)
        top = [h[selected] for h in lower[len(lower) - (k - 1) :]] if k > 1 else []
        return normalize_targets((None, *top, last), k)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        clean_input_ids: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
        target_masks: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> JepaMlmPreTrainingOutput:
        """One pre-training step's losses (see the module docstring for the batch contract)."""
        config = self.config
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        blocks = config.jepa_context == "blocks"
        if labels is None and (config.has_mlm or (config.has_jepa and not blocks)):
            raise ValueError(
                f"objective={config.objective!r}, jepa_context={config.jepa_context!r} needs `labels` "
                "(the original ids at the masked positions, -100 elsewhere)"
            )
        if config.has_jepa and clean_input_ids is None:
            raise ValueError(f"objective={config.objective!r} needs `clean_input_ids` for the target encoder")
        if config.has_jepa and blocks and (context_mask is None or target_masks is None):
            raise ValueError("jepa_context='blocks' needs `context_mask` (B, L) and `target_masks` (B, K, L)")

        mlm_loss = mlm_accuracy = jepa = target_std = prediction_std = None
        online_hidden = None
        # Gradient measurement of the two branches (hybrid, training, while the trainer records); see JepaMlmBalance.
        record = self.balance.new_record() if self.balance is not None else None
        if config.has_mlm or (config.has_jepa and not blocks):
            # 1. Online pass over the BERT-masked sequence (the MLM branch; also the JEPA context in `shared`).
            online_hidden = self.jepa_mlm(
                input_ids, attention_mask, token_type_ids
            ).last_hidden_state  # (B, L, D)
            if config.has_mlm:
                mlm_loss, mlm_accuracy = self._mlm_loss(
                    _watch_norm(online_hidden, record, "grad_mlm"), labels
                )

        if config.has_jepa:
            # 2. Targets: the EMA encoder on the clean sequence, no gradient.
            if blocks:
                targets = self._targets(clean_input_ids, attention_mask, token_type_ids)  # (B, L, D)
                predictions, target_values = self._predict_blocks(
                    clean_input_ids,
                    attention_mask,
                    token_type_ids,
                    context_mask,
                    target_masks,
                    targets,
                    record,
                )
            else:
                # 3. `shared`: the predictor reads the whole masked-sequence pass; targets at the MLM positions.
                positions = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
                selected = labels != -100  # (B, L)
                predictions = self.predictor(
                    self.balance.jepa_branch(online_hidden, record)
                    if self.balance is not None
                    else online_hidden,
                    positions,
                    attention_mask.bool(),
                    output_mask=selected,
                )  # (N, D)
                target_values = self._targets_at(
                    clean_input_ids, attention_mask, token_type_ids, selected
                )  # (N, D)
            jepa = jepa_loss(predictions, target_values, config.jepa_loss, config.smooth_l1_beta)
            target_std, prediction_std = _batch_std(target_values), _batch_std(predictions)

        balance_weight = None
        if config.objective == "hybrid":
            loss, balance_weight = self.balance(jepa, mlm_loss)
            if record is not None:
                record.update(jepa_loss=jepa.detach().float(), mlm_loss=mlm_loss.detach().float())
                for value, key in ((jepa, "dloss_jepa"), (mlm_loss, "dloss_mlm"), (loss, "dloss_total")):
                    _watch_value(value, record, key)
        else:
            loss = mlm_loss if config.objective == "mlm" else jepa
        return JepaMlmPreTrainingOutput(
            loss=loss,
            mlm_loss=mlm_loss,
            mlm_accuracy=mlm_accuracy,
            jepa_loss=jepa,
            balance_weight=balance_weight,
            target_std=target_std,
            prediction_std=prediction_std,
        )

    def _predict_blocks(
        self,
        clean_input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None,
        context_mask: torch.Tensor,
        target_masks: torch.Tensor,
        targets: torch.Tensor,
        record: dict | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`blocks` mode (I-JEPA): the online encoder reads only the context tokens; the predictor reads them
        plus mask tokens at one target block's positions, once per block. `record`: where the context states'
        gradient norm goes (`JepaMlmBalance`).

        Returns:
            predictions (N, D) and targets (N, D) over every valid target token of every block.
        """
        context_mask = context_mask.bool() & attention_mask.bool()
        batch, num_blocks, _ = target_masks.shape
        # 3a. Context pass: gather the context tokens (keeping their positions) so no work is spent on the rest.
        ctx_idx, ctx_valid = gather_tokens(context_mask)  # (B, Mc)
        ctx_types = token_type_ids.gather(1, ctx_idx) if token_type_ids is not None else None
        context = self.jepa_mlm(
            clean_input_ids.gather(1, ctx_idx), ctx_valid.long(), ctx_types, position_ids=ctx_idx
        ).last_hidden_state  # (B, Mc, D)
        if self.balance is not None:
            context = self.balance.jepa_branch(context, record)
        # 3b. Predictor, the K blocks batched as B*K rows (row b*K + k is block k of sequence b).
        tgt_idx, tgt_valid = gather_tokens(target_masks.reshape(batch * num_blocks, -1).bool())  # (B*K, Mt)
        predictions = self.predictor(
            context, ctx_idx, ctx_valid, tgt_idx, tgt_valid, repeats=num_blocks, output_mask=tgt_valid
        )  # (N, D)
        # The targets of each valid slot, read straight from (B*L, D) without repeating `targets` K times.
        seq_len = targets.shape[1]
        rows = (
            torch.arange(batch, device=tgt_idx.device).repeat_interleave(num_blocks).unsqueeze(1)
        )  # (B*K, 1)
        target_values = targets.reshape(batch * seq_len, -1)[(rows * seq_len + tgt_idx)[tgt_valid]]  # (N, D)
        return predictions, target_values


class JepaMlmForMaskedLM(JepaMlmPreTrainedModel):
    """Encoder + MLM head, for `pipeline("fill-mask")` and MLM evaluation."""

    _tied_weights_keys = {"lm_head.decoder.weight": "jepa_mlm.embeddings.word_embeddings.weight"}
    _keys_to_ignore_on_load_unexpected = [r"target_encoder\.", r"predictor\.", r"balance\."]

    def __init__(self, config: JepaMlmConfig) -> None:
        super().__init__(config)
        self.jepa_mlm = JepaMlmModel(config)
        self.lm_head = JepaMlmLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head.decoder = new_embeddings

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        """Returns `MaskedLMOutput` with logits (B, L, V) and, given `labels` (-100 ignored), the MLM loss
        (transformers' `ForMaskedLM` loss)."""
        out = self.jepa_mlm(
            input_ids, attention_mask, token_type_ids, position_ids, output_hidden_states=output_hidden_states
        )
        logits = self.lm_head(out.last_hidden_state)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, **kwargs)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


class JepaMlmForSequenceClassification(JepaMlmPreTrainedModel):
    """Encoder + dropout + linear head on `pooler_output`; regression (MSE) when `num_labels == 1`, single-label
    cross-entropy otherwise, multi-label BCE when `problem_type` says so (transformers' convention)."""

    _keys_to_ignore_on_load_unexpected = [r"target_encoder\.", r"predictor\.", r"lm_head\.", r"balance\."]

    def __init__(self, config: JepaMlmConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.jepa_mlm = JepaMlmModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        """Returns `SequenceClassifierOutput` with logits (B, num_labels) and, given `labels`, the loss of
        transformers' `ForSequenceClassification` (regression, single- or multi-label by `problem_type`)."""
        out = self.jepa_mlm(
            input_ids, attention_mask, token_type_ids, position_ids, output_hidden_states=output_hidden_states
        )
        logits = self.classifier(self.dropout(out.pooler_output))
        loss = None
        if labels is not None:
            loss = self.loss_function(labels, logits, self.config, **kwargs)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


__all__ = [
    "JepaMlmForMaskedLM",
    "JepaMlmForPreTraining",
    "JepaMlmForSequenceClassification",
    "JepaMlmModel",
    "JepaMlmPreTrainedModel",
]
