"""Settings come from the environment over a .env file, and bad values name their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError, load_settings


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings({}, env_file=None)
    assert settings == Settings()
    assert settings.database_url is None
    assert settings.qdrant_url is None


def test_the_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\n"
        "\n"
        "export DATABASE_URL='postgresql://u@db.example/chat?sslmode=require'\n"
        "DB_STATEMENT_CACHE_SIZE=0\n"
        'MAX_PAGE_SIZE="50"\n'
        "COOKIE_SECURE=true\n"
    )
    settings = load_settings({"MAX_PAGE_SIZE": "25", "UNRELATED": "x"}, env_file=env_file)
    assert settings.database_url == "postgresql://u@db.example/chat?sslmode=require"
    assert settings.db_statement_cache_size == 0
    assert settings.max_page_size == 25
    assert settings.cookie_secure is True


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"DB_POOL_MAX_SIZE": "many"}, "DB_POOL_MAX_SIZE"),
        ({"DB_POOL_MAX_SIZE": "0"}, "DB_POOL_MAX_SIZE"),
        ({"PORT": "70000"}, "PORT"),
        ({"DB_CONNECT_TIMEOUT": "-1"}, "DB_CONNECT_TIMEOUT"),
        ({"DB_POOL_MIN_SIZE": "20", "DB_POOL_MAX_SIZE": "10"}, "DB_POOL_MIN_SIZE"),
        ({"DEFAULT_PAGE_SIZE": "500"}, "DEFAULT_PAGE_SIZE"),
        ({"BM25_LANGUAGE": "klingon"}, "BM25_LANGUAGE"),
        ({"BM25_AVG_LEN": "0"}, "BM25_AVG_LEN"),
    ],
)
def test_a_bad_value_names_its_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(environ, env_file=None)


def test_a_malformed_env_file_line_is_reported_with_its_number(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=8001\nnot a setting\n")
    with pytest.raises(SettingsError, match=r"\.env:2"):
        load_settings({}, env_file=env_file)
