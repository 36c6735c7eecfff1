"""Run inside the LLaMA-Factory environment (build_env.sh): two supervised training steps of
LLaMA-Factory on a run's dataset, with trainer_args.json's `llamafactory` block verbatim
(dataset, template, media and pixel settings, and `cutoff_len` as advised):

    python train.py MODEL_DIR TRAINER_ARGS_JSON OUTPUT_DIR

Data loading goes through the root's dataset_info.json and `dataset/`, as a user's run does;
a cutoff through a run of pad tokens would fail the forward pass."""

import json
import sys
from pathlib import Path

from llamafactory.train.tuner import run_exp


def main(model_dir: str, trainer_args: str, output_dir: str) -> None:
    block = json.loads(Path(trainer_args).read_text())["llamafactory"]
    run_exp(
        {
            "model_name_or_path": model_dir,
            **block,
            "stage": "sft",
            "do_train": True,
            "finetuning_type": "full",
            "max_steps": 2,
            "per_device_train_batch_size": 1,
            "output_dir": output_dir,
            "report_to": "none",
            "logging_steps": 1,
            "save_strategy": "no",
        }
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
