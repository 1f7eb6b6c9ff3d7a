"""The transformer-encoder toolkit that ``bert`` and ``embed`` share.

* :mod:`.hub`: finding and loading checkpoints (the bundled all-MiniLM-L6-v2, a folder,
  the hub), safetensors only, never remote code;
* :mod:`.batching`: tokenising once, truncating, length-grouped batches;
* :mod:`.runtime`: device, precision, attention kernels, tensors of a batch;
* :mod:`.network`: the networks as ``(input_ids, attention_mask) -> outputs``;
* :mod:`.inference`: the traced int8/bf16/fp32 CPU paths and the choice between them.

:mod:`.hub` imports neither torch nor transformers at its top, so ``data info`` can ask
for the bundled tokenizer without the rest.
"""
