from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from synod.registry import services
from synod.registry.errors import RegistryError
from synod.registry.models import DatasetFormat

from ._progress import file_progress


class Command(BaseCommand):
    help = "Upload a dataset (CSV, JSON Lines or Parquet) into the content-addressed registry."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--inputs", required=True, help="Comma-separated input columns, in model order."
        )
        parser.add_argument("--label", default="", help="The label column.")
        parser.add_argument("--format", choices=DatasetFormat.values, default=None)
        parser.add_argument("--description", default="")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            with (
                path.open("rb") as source,
                file_progress(path, "hashing", enabled=not options["no_progress"]) as advance,
            ):
                result = services.upload_dataset(
                    source=source,
                    filename=path.name,
                    name=options["name"],
                    input_columns=options["inputs"].split(","),
                    label_column=options["label"],
                    fmt=options["format"],
                    description=options["description"],
                    on_progress=advance,
                )
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        dataset = result.record
        self.stdout.write(result.message)
        self.stdout.write(f"{dataset.row_count} rows; columns {dataset.column_types}")
        self.stdout.write(dataset.sha256)
