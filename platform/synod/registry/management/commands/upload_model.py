from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from synod.registry import services
from synod.registry.errors import RegistryError
from synod.registry.models import ModelTask

from ._progress import file_progress


class Command(BaseCommand):
    help = "Upload an ONNX model version, validated and linked to the dataset it was trained on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--name", required=True)
        parser.add_argument("--model-version", required=True)
        parser.add_argument("--task", choices=ModelTask.values, required=True)
        parser.add_argument("--price", type=int, required=True, help="Tickets per call.")
        parser.add_argument("--dataset", required=True, help="The dataset's sha256.")
        parser.add_argument("--tokenizer", type=Path, help="tokenizer.json for text models.")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--evaluate", action="store_true", help="Evaluate it on its dataset now, here."
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            with ExitStack() as stack:
                source = stack.enter_context(path.open("rb"))
                tokenizer = (
                    stack.enter_context(options["tokenizer"].open("rb"))
                    if options["tokenizer"]
                    else None
                )
                advance = stack.enter_context(
                    file_progress(path, "hashing", enabled=not options["no_progress"])
                )
                result = services.upload_model(
                    source=source,
                    filename=path.name,
                    name=options["name"],
                    version=options["model_version"],
                    task=options["task"],
                    price_per_call=options["price"],
                    dataset_sha256=options["dataset"],
                    tokenizer_source=tokenizer,
                    description=options["description"],
                    on_progress=advance,
                )
            model = result.record
            self.stdout.write(result.message)
            self.stdout.write(f"inputs {model.inputs}; outputs {model.outputs}")
            if options["evaluate"]:
                evaluation = services.request_evaluation(
                    model_version=model, dataset=model.dataset, enqueue=False
                )
                evaluation = services.run_evaluation(evaluation_id=evaluation.pk)
                self.stdout.write(
                    f"evaluation #{evaluation.pk}: {evaluation.status} "
                    f"{evaluation.metrics_sha256 or evaluation.error}"
                )
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(model.sha256)
