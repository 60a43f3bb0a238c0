"""Project-wide invariants: checks pass, migrations are complete, the layout holds."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command


def test_platform_dir_is_not_a_package():
    # A `platform` package would shadow Python's own `platform` module.
    assert not (settings.REPO_DIR / "platform" / "__init__.py").exists()
    import platform

    assert hasattr(platform, "python_version")


def test_system_checks_pass():
    out = StringIO()
    call_command("check", stdout=out)
    assert "no issues" in out.getvalue()


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_every_domain_app_is_installed():
    for app in ["accounts", "chain", "governance", "registry", "tickets", "providers", "inference"]:
        assert f"synod.{app}" in settings.INSTALLED_APPS
        assert (settings.PACKAGE_DIR / app / "apps.py").exists()


def test_env_example_lists_every_variable_settings_read():
    import re

    names = set()
    for path in (settings.PACKAGE_DIR / "config" / "settings").glob("*.py"):
        names |= set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', path.read_text()))
    example = (settings.REPO_DIR / ".env.example").read_text()
    missing = sorted(name for name in names if name not in example)
    assert not missing, f".env.example lacks {missing}"
