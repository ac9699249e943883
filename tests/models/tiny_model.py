"""Builds a tiny random Llama-style model and a BPE tokenizer trained on a little text, saved with
save_pretrained, so the local backends are tested through the real from_pretrained path, offline.

Used by tests/models/test_hf.py, tests/models/test_vllm.py and bench/local_inference.py. Needs torch,
transformers and tokenizers (callers skip or fail with a clear message when they are missing).
"""

from __future__ import annotations

from pathlib import Path

# Enough text for a byte-level BPE to learn some merges: code, and the shape of TMBench prompts.
CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "for i in range(10):\n    print(i * i)\n",
    "class Queue:\n    def __init__(self):\n        self.items = []\n",
    "### Step 0:\n- Queue State: [a b c]\n### Step 1:\n- Head Symbol: a\n- Action: remove 2 symbols, append b c\n",
    "You simulate a tag system. Apply the production rules step by step until it halts.\n",
    "import json\nwith open('data.json') as fh:\n    data = json.load(fh)\n",
]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def build_tiny_model(folder: Path, *, chat_template: bool = True, seed: int = 0, vocab_size: int = 400,
                     hidden: int = 64, layers: int = 2) -> Path:
    """Write tokenizer and model files into `folder` (created) and return it. Same seed, same weights."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(CORPUS * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                        padding_side="left")
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
