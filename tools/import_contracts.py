"""A custom import-linter contract: each app is used by the others only through its public
modules (by default `services`, `selectors` and `errors`).

import-linter's own `protected` contract needs every private module listed by name, so a new
module would slip through unlisted; this one treats every module of an app as private unless
it is named public, so it holds for modules nobody has written yet.
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils
from importlinter.domain import helpers


class PublicSurfaceContract(Contract):
    """Configuration options:
    - apps: the apps (packages) whose insides are private.
    - public: the names of each app's public submodules (e.g. services, selectors, errors).
    - exempt_importers: modules that may import anything of any app (the project's wiring:
      settings and URL configuration).
    - ignore_imports: import expressions to ignore (optional).
    """

    type_name = "public_surface"

    apps = fields.ListField(subfield=fields.ModuleExpressionField())
    public = fields.ListField(subfield=fields.StringField())
    exempt_importers = fields.ListField(subfield=fields.ModuleExpressionField(), required=False)
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(
        contract_utils.AlertLevel, default=contract_utils.AlertLevel.ERROR
    )

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=self.unmatched_ignore_imports_alerting,  # type: ignore[arg-type]
        )
        exempt = {
            module.name
            for module in helpers.module_expressions_to_modules(
                graph=graph,
                expressions=self.exempt_importers or [],  # type: ignore[arg-type]
                as_packages=True,
            )
        }
        public_names = set(self.public)  # type: ignore[arg-type]
        illegal: list[dict[str, Any]] = []
        apps = helpers.module_expressions_to_modules(
            graph=graph,
            expressions=self.apps,  # type: ignore[arg-type]
            as_packages=False,
        )
        for app in sorted(module.name for module in apps):
            inside = {app} | graph.find_descendants(app)
            surface = {app} | {f"{app}.{name}" for name in public_names}
            for private in sorted(inside - surface):
                importers = graph.find_modules_that_directly_import(private) - inside - exempt
                for importer in sorted(importers):
                    details = graph.get_import_details(importer=importer, imported=private)
                    illegal.append(
                        {
                            "importer": importer,
                            "imported": private,
                            "line_numbers": tuple(d["line_number"] for d in details),
                        }
                    )
        return ContractCheck(
            kept=not illegal,
            warnings=list(removal.warnings),
            ignored_import_count=removal.ignored_import_count,
            metadata={"illegal": illegal},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        public = ", ".join(self.public)  # type: ignore[arg-type]
        output.print_error(f"Imports of another app's private modules (public: {public}):")
        output.new_line()
        for link in check.metadata["illegal"]:
            lines = ", ".join(map(str, link["line_numbers"]))
            output.print_error(f"- {link['importer']} -> {link['imported']} (l.{lines})")
            output.new_line()
