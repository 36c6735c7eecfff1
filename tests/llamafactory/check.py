"""Run inside the LLaMA-Factory environment (build_env.sh): hands vidcurate's written samples
to LLaMA-Factory's own code, as its trainer would, and prints what it builds, as JSON.

    python check.py MODEL_DIR TRAINER_ARGS_JSON SAMPLES_JSON

trainer_args.json's `llamafactory` block is parsed verbatim by LLaMA-Factory's argument
classes; the model's processors are loaded by its `load_tokenizer` from those ModelArguments;
the messages are expanded by the mm_plugin of the block's template (qwen2_vl, or
qwen3_vl_nothink with its per-step timestamps), batched by its `get_mm_inputs`, and tokenized
by the template.
"""

import json
import re
import sys
from pathlib import Path

from llamafactory.data.template import get_template_and_fix_tokenizer
from llamafactory.hparams import DataArguments, ModelArguments
from llamafactory.model import load_tokenizer
from transformers import HfArgumentParser


def main(model_dir: str, trainer_args: str, samples: str) -> None:
    block = json.loads(Path(trainer_args).read_text())["llamafactory"]
    # the block as LLaMA-Factory's own argument parser takes it: an unknown key fails here
    parser = HfArgumentParser((ModelArguments, DataArguments))
    model_args, data_args = parser.parse_dict({"model_name_or_path": model_dir, **block}, allow_extra_keys=False)
    loaded = load_tokenizer(model_args)
    tokenizer, processor = loaded["tokenizer"], loaded["processor"]
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    plugin = template.mm_plugin
    results = []
    for sample in json.loads(Path(samples).read_text()):
        images, videos = sample["images"], sample["videos"]
        messages = plugin.process_messages(sample["messages"], images, videos, [], processor)
        inputs = plugin.get_mm_inputs(images, videos, [], [len(images)], [len(videos)], [0], [[]], processor)
        prompt, response = template.encode_oneturn(tokenizer, messages)
        grids = [[int(x) for x in g] for g in inputs.get("video_grid_thw", [])]
        results.append(
            {
                "id": sample["id"],
                "video_pads": sum(m["content"].count("<|video_pad|>") for m in messages),
                "image_pads": sum(m["content"].count("<|image_pad|>") for m in messages),
                "video_grids": grids,
                "timestamps": [t for m in messages for t in re.findall(r"<[0-9.]+ seconds>", m["content"])],
                "input_ids": len(prompt) + len(response),
            }
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
