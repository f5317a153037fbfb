"""Run by `accelerate launch --num_processes 2 --cpu`: trains through `modeling_jepa_mlm.training.pretrain.main`, then each rank saves
its full model state so the test can check that online and target encoders are identical across ranks."""

import sys
from pathlib import Path

import torch

from modeling_jepa_mlm.training import pretrain as run_pretraining

_train = run_pretraining.JepaMlmTrainer.train


def train_and_dump(self, *args, **kwargs):
    result = _train(self, *args, **kwargs)
    model = self.accelerator.unwrap_model(self.model)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    rank = self.accelerator.process_index
    torch.save(
        {"state": state, "world_size": self.accelerator.num_processes, "steps": self.state.global_step},
        Path(self.args.output_dir) / f"rank{rank}.pt",
    )
    return result


run_pretraining.JepaMlmTrainer.train = train_and_dump
run_pretraining.main(sys.argv[1:])
