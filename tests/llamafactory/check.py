"""Run inside the LLaMA-Factory environment (build_env.sh): hands vidcurate's written samples
to LLaMA-Factory's own code, as its trainer would, and prints what it builds, as JSON.

    python check.py MODEL_DIR TRAINER_ARGS_JSON SAMPLES_JSON

The model's processors are loaded by LLaMA-Factory's `load_tokenizer` from the ModelArguments
that trainer_args.json's `llamafactory` block gives; the messages are expanded by its
`qwen2_vl` mm_plugin, batched by its `get_mm_inputs`, and tokenized by its `qwen2_vl` template.
"""

import json
import sys
from pathlib import Path

from llamafactory.data.mm_plugin import get_mm_plugin
from llamafactory.data.template import get_template_and_fix_tokenizer
from llamafactory.hparams import DataArguments, ModelArguments
from llamafactory.model import load_tokenizer

MODEL_KEYS = (
    "video_fps",
    "video_maxlen",
    "video_max_pixels",
    "video_min_pixels",
    "image_max_pixels",
    "image_min_pixels",
)


def main(model_dir: str, trainer_args: str, samples: str) -> None:
    block = json.loads(Path(trainer_args).read_text())["llamafactory"]
    loaded = load_tokenizer(ModelArguments(model_name_or_path=model_dir, **{k: block[k] for k in MODEL_KEYS}))
    tokenizer, processor = loaded["tokenizer"], loaded["processor"]
    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template="qwen2_vl"))
    plugin = get_mm_plugin("qwen2_vl", image_token="<|image_pad|>", video_token="<|video_pad|>")
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
                "input_ids": len(prompt) + len(response),
            }
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
