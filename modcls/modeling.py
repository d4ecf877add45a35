"""The modcls model: one transformer encoder, mean pooling, a topic head and a sensitivity head.

Labels, thresholds, temperatures and the routing policy travel in the config. Parameters that were
frozen during training (the word-embedding table, optionally the lowest layers) are not saved: the
saved folder names the base encoder and its fingerprint, and loading takes them from the base again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

from .base_encoder import RESTORED_BASE_NAME, base_fingerprint, resolve_base
from .errors import ModelLoadError
from .labels import CATEGORIES, TOPICS

WORD_EMBEDDINGS = "backbone.embeddings.word_embeddings."


class ModclsConfig(PretrainedConfig):
    """Configuration of :class:`ModclsModel`: the encoder's config plus everything needed to decide."""

    model_type = "modcls"
    # ``window_tokens`` (most tokens per model window) is not ``max_length``: PretrainedConfig owns that
    # name for generation and resets it to 20.

    def __init__(
        self,
        encoder: dict[str, Any] | None = None,
        base_model: str = RESTORED_BASE_NAME,
        base_fingerprint: str | None = None,
        topics: list[str] | None = None,
        categories: list[str] | None = None,
        thresholds: dict[str, float] | None = None,
        topic_temperature: float = 1.0,
        sensitivity_temperature: float = 1.0,
        policy: dict[str, Any] | None = None,
        window_tokens: int = 512,
        context_tokens: int = 0,
        urgent_thresholds: dict[str, float] | None = None,
        text_prefix: str = "passage: ",
        frozen_prefixes: list[str] | None = None,
        classifier_dropout: float = 0.1,
        model_version: str = "untrained",
        **kwargs: Any,
    ) -> None:
        self.encoder = dict(encoder or {})
        self.base_model = base_model
        self.base_fingerprint = base_fingerprint
        self.topics = list(topics or TOPICS)
        self.categories = list(categories or CATEGORIES)
        self.thresholds = {c: 0.5 for c in self.categories} | dict(thresholds or {})
        self.topic_temperature = float(topic_temperature)
        self.sensitivity_temperature = float(sensitivity_temperature)
        self.policy = dict(policy or {})
        self.window_tokens = int(window_tokens)
        #: Most tokens of article context (the headline) read with a paragraph; 0: the model reads none.
        self.context_tokens = int(context_tokens)
        #: Upper, precision-oriented thresholds of the categories that have a second, more urgent tier.
        self.urgent_thresholds = dict(urgent_thresholds or {})
        self.text_prefix = text_prefix
        self.frozen_prefixes = list(frozen_prefixes if frozen_prefixes is not None else [WORD_EMBEDDINGS])
        self.classifier_dropout = float(classifier_dropout)
        self.model_version = model_version
        super().__init__(**kwargs)

    def encoder_config(self) -> PretrainedConfig:
        """The encoder's own config object."""
        if not self.encoder:
            raise ModelLoadError("the model config holds no encoder config")
        enc = dict(self.encoder)
        return AutoConfig.for_model(enc.pop("model_type"), **enc)


@dataclass
class ModclsOutput(ModelOutput):
    """Raw head outputs (before temperature scaling) and the pooled representation."""

    topic_logits: torch.Tensor | None = None
    sensitivity_logits: torch.Tensor | None = None
    pooled: torch.Tensor | None = None


def mean_pool(hidden: torch.Tensor, pool_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` over the positions ``pool_mask`` keeps (the paragraph's tokens, not its context)."""
    mask = pool_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class ModclsModel(PreTrainedModel):
    """Encoder + mean pooling + topic (softmax) and sensitivity (independent sigmoids) heads."""

    config_class = ModclsConfig
    base_model_prefix = "backbone"
    main_input_name = "input_ids"

    def __init__(self, config: ModclsConfig) -> None:
        super().__init__(config)
        self.backbone = AutoModel.from_config(config.encoder_config(), add_pooling_layer=False)
        hidden = self.backbone.config.hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.topic_head = nn.Linear(hidden, len(config.topics))
        self.sensitivity_head = nn.Linear(hidden, len(config.categories))
        # Frozen parameters are absent from saved folders by design; they come from the base.
        self._keys_to_ignore_on_load_missing = [f"^{p}" for p in config.frozen_prefixes]
        self.post_init()
        self.apply_freezing()

    def _init_weights(self, module: nn.Module) -> None:
        std = getattr(self.backbone.config, "initializer_range", 0.02) if hasattr(self, "backbone") else 0.02
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(0.0, std)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(0.0, std)
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()

    # -- freezing -----------------------------------------------------------------------------
    def is_frozen(self, name: str) -> bool:
        """True for parameters that training leaves as in the base (and saving leaves out)."""
        return any(name.startswith(p) for p in self.config.frozen_prefixes)

    def apply_freezing(self) -> None:
        for name, param in self.named_parameters():
            param.requires_grad_(not self.is_frozen(name))

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """The parameters a saved folder holds: everything but the frozen ones."""
        return {k: v for k, v in self.state_dict().items() if not self.is_frozen(k)}

    # -- forward ------------------------------------------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        pool_mask: torch.Tensor | None = None,
    ) -> ModclsOutput:
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        pooled = self.dropout(mean_pool(hidden, attention_mask if pool_mask is None else pool_mask))
        return ModclsOutput(self.topic_head(pooled), self.sensitivity_head(pooled), pooled)

    # -- split forward: frozen lowest layers once, trained upper layers many times ---------------
    def frozen_depth(self) -> int:
        """How many lowest encoder layers are frozen along with the embeddings (0 if the embeddings train)."""
        if not any(p == "backbone.embeddings." for p in self.config.frozen_prefixes):
            return 0
        depth = 0
        while f"backbone.encoder.layer.{depth}." in self.config.frozen_prefixes:
            depth += 1
        return depth

    def frozen_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the embeddings and the frozen lowest layers (deterministic, no gradient)."""
        with torch.no_grad():
            hidden = self.backbone.embeddings(input_ids=input_ids)
            return self._run_layers(hidden, attention_mask, 0, self.frozen_depth(), eval_mode=True)

    def forward_from_features(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, pool_mask: torch.Tensor | None = None
    ) -> ModclsOutput:
        """The rest of :meth:`forward` from :meth:`frozen_features`' output."""
        layers = len(self.backbone.encoder.layer)
        hidden = self._run_layers(hidden, attention_mask, self.frozen_depth(), layers)
        pooled = self.dropout(mean_pool(hidden, attention_mask if pool_mask is None else pool_mask))
        return ModclsOutput(self.topic_head(pooled), self.sensitivity_head(pooled), pooled)

    def _run_layers(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int, stop: int, eval_mode: bool = False
    ) -> torch.Tensor:
        mask = self.backbone.get_extended_attention_mask(attention_mask, attention_mask.shape)
        for layer in self.backbone.encoder.layer[start:stop]:
            training = layer.training
            if eval_mode:
                layer.eval()
            out = layer(hidden, attention_mask=mask)
            layer.train(training)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def probabilities(self, output: ModclsOutput) -> tuple[torch.Tensor, torch.Tensor]:
        """Calibrated topic probabilities (softmax) and sensitivity scores (sigmoids)."""
        topic = torch.softmax(output.topic_logits.float() / self.config.topic_temperature, dim=-1)
        sens = torch.sigmoid(output.sensitivity_logits.float() / self.config.sensitivity_temperature)
        return topic, sens

    # -- construction, saving, loading --------------------------------------------------------
    @classmethod
    def from_base(
        cls,
        base: str | None = None,
        *,
        freeze_embeddings: bool = True,
        freeze_layers: int = 0,
        **config_kwargs: Any,
    ) -> ModclsModel:
        """A new model on a base encoder: the restored e5-small (default), a local folder or a hub id."""
        path = resolve_base(base)
        encoder = AutoModel.from_pretrained(path, add_pooling_layer=False)
        frozen = []
        if freeze_embeddings:
            frozen.append(WORD_EMBEDDINGS)
        if freeze_layers:
            frozen.append("backbone.embeddings.")
            frozen += [f"backbone.encoder.layer.{i}." for i in range(freeze_layers)]
        config = ModclsConfig(
            encoder=encoder.config.to_dict(),
            base_model=base or RESTORED_BASE_NAME,
            base_fingerprint=base_fingerprint(Path(path)) if Path(path).is_dir() else None,
            frozen_prefixes=frozen,
            **config_kwargs,
        )
        model = cls(config)
        model.backbone.load_state_dict(encoder.state_dict())
        model.apply_freezing()
        return model

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> None:  # type: ignore[override]
        """Save config and trained weights only (safetensors)."""
        kwargs.pop("safe_serialization", None)
        kwargs.setdefault("state_dict", self.trained_state_dict())
        super().save_pretrained(save_directory, safe_serialization=True, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *args: Any, **kwargs: Any) -> ModclsModel:  # type: ignore[override]
        """Load a saved model; frozen parameters are read back from its base encoder."""
        path = Path(pretrained_model_name_or_path)
        if path.exists() and not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} is not a modcls model folder (no config.json)")
        kwargs["output_loading_info"] = True
        kwargs.setdefault("use_safetensors", True)
        model, info = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        lacking = [k for k in info["missing_keys"] if not model.is_frozen(k)]
        if lacking:
            raise ModelLoadError(f"the model folder lacks trained weights: {', '.join(lacking[:5])}")
        saved = _saved_keys(pretrained_model_name_or_path)
        absent = [k for k in model.state_dict() if model.is_frozen(k) and k not in saved]
        if absent:
            model._fill_from_base(absent)
        model.apply_freezing()
        model.eval()
        return model

    def _fill_from_base(self, missing: list[str]) -> None:
        path = resolve_base(self.config.base_model)
        if self.config.base_fingerprint and Path(path).is_dir():
            found = base_fingerprint(Path(path))
            if found != self.config.base_fingerprint:
                raise ModelLoadError(
                    f"base encoder at {path} has fingerprint {found[:12]}…, the model was trained on "
                    f"{self.config.base_fingerprint[:12]}…; restore the right base (`modcls base`)"
                )
        base_state = _base_tensors(path, [k[len("backbone.") :] for k in missing])
        state = self.state_dict()
        with torch.no_grad():
            for key in missing:
                state[key].copy_(base_state[key[len("backbone.") :]])


def _saved_keys(folder: str | Path) -> set[str]:
    """Tensor names in a saved folder's ``model.safetensors`` (empty when there is no local file)."""
    file = Path(folder) / "model.safetensors"
    if not file.is_file():
        return set()
    from safetensors import safe_open

    with safe_open(str(file), framework="pt") as f:
        return set(f.keys())


def _base_tensors(path: str, keys: list[str]) -> dict[str, torch.Tensor]:
    """Read ``keys`` of a base encoder's state dict (safetensors directly when it is a local folder)."""
    file = Path(path) / "model.safetensors"
    if file.is_file():
        from safetensors import safe_open

        out = {}
        with safe_open(str(file), framework="pt") as f:
            names = set(f.keys())
            for key in keys:
                for candidate in (key, f"bert.{key}", f"roberta.{key}"):
                    if candidate in names:
                        out[key] = f.get_tensor(candidate)
                        break
                else:
                    raise ModelLoadError(f"base encoder at {path} has no tensor {key!r}")
        return out
    state = AutoModel.from_pretrained(path, add_pooling_layer=False).state_dict()
    return {k: state[k] for k in keys}


AutoConfig.register(ModclsConfig.model_type, ModclsConfig)
AutoModel.register(ModclsConfig, ModclsModel)
