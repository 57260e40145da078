"""Subcommands of the ``sapnet`` tool: name → (module, help). Each module defines
``add_arguments(parser)`` and ``run(args) -> exit code``; the command line imports only the
module of the command it runs, so ``sapnet --help`` loads none of them."""

COMMANDS: dict[str, tuple[str, str]] = {
    "derain": ("sapnet.commands.derain", "derain images (files, folders or glob patterns) into an output folder"),
    "train": ("sapnet.commands.train", "train SAPNet from a YAML config (torchrun --nproc_per_node N for several GPUs)"),
    "synth": ("sapnet.commands.synth", "synthesise rainy/clean pairs from a folder of clean photos"),
    "export": ("sapnet.commands.export", "export a model to ONNX (dynamic image size) for ONNX Runtime and other runtimes"),
    "evaluate": ("sapnet.commands.evaluate", "score models on data sets: per-image CSV, Markdown summary, settings JSON"),
    "efficiency": ("sapnet.commands.efficiency", "parameters, FLOPs and median latency of models (the paper's Figure 1)"),
    "compare": ("sapnet.commands.compare", "comparison figures (rainy | models | clean, with an enlarged crop) and a contact sheet"),
    "serve": ("sapnet.commands.serve", "serve a web page and HTTP API that derain photos (on 127.0.0.1 unless --host says otherwise)"),
    "downstream": ("sapnet.commands.downstream", "detection mAP or segmentation mPA/mIoU on rainy, derained and clean images (the paper's Table 7)"),
}
