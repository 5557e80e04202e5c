"""Settings come from the environment over a .env file, and bad values name their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError, load_settings, read_env_file


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


def test_an_empty_value_in_the_environment_unsets_the_env_files(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("QDRANT_URL=http://qdrant.example:6333\n")
    assert load_settings({"QDRANT_URL": ""}, env_file=env_file).qdrant_url is None


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("QDRANT_API_KEY=secret # the team's key", "secret"),
        ("QDRANT_API_KEY=secret#not-a-comment", "secret#not-a-comment"),
        ("QDRANT_API_KEY='secret # kept' # dropped", "secret # kept"),
        ('QDRANT_API_KEY="two words"', "two words"),
        ('QDRANT_API_KEY="say \\"hi\\""', 'say "hi"'),
        ("export QDRANT_API_KEY=secret", "secret"),
        ("  QDRANT_API_KEY = secret  ", "secret"),
        ("QDRANT_API_KEY=pa$word${HOME}", "pa$word${HOME}"),  # literal: no expansion
        ("QDRANT_API_KEY='pa$word${HOME}'", "pa$word${HOME}"),
        ('QDRANT_API_KEY="line one\nline two"', "line one\nline two"),
        ("QDRANT_API_KEY='line one\nline two'", "line one\nline two"),
        ('QDRANT_API_KEY="tab\\there"', "tab\there"),
    ],
)
def test_env_file_lines_are_read_as_a_shell_would(tmp_path: Path, line: str, value: str) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"# settings\n{line}\nLOG_LEVEL=debug\n")
    settings = load_settings({}, env_file=env_file)
    assert settings.qdrant_api_key == value
    assert settings.log_level == "debug"  # the line after a multi-line value still counts


def test_a_byte_order_mark_and_a_name_without_value_are_harmless(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"\xef\xbb\xbfPORT=8001\nQDRANT_URL\nCOOKIE_NAME=\n")
    assert read_env_file(env_file) == {"PORT": "8001", "COOKIE_NAME": ""}
    settings = load_settings({}, env_file=env_file)
    assert (settings.port, settings.qdrant_url, settings.cookie_name) == (8001, None, "chat_token")


def test_a_malformed_env_file_line_is_reported_with_its_number(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=8001\nnot a setting\n")
    with pytest.raises(SettingsError, match=r"\.env:2: expected KEY=VALUE") as error:
        load_settings({}, env_file=env_file)
    assert "\n" not in str(error.value)


def test_an_env_file_that_is_not_utf8_is_one_line_naming_the_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"PORT=8001\n# caf\xe9\n")
    with pytest.raises(SettingsError) as error:
        load_settings({}, env_file=env_file)
    assert str(error.value) == f"{env_file}:2: not UTF-8 text (byte 0xe9); save the file as UTF-8"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"DB_POOL_MAX_SIZE": "abc"},
            'DB_POOL_MAX_SIZE: expected an integer >= 1, got "abc"; '
            "set it to a whole number >= 1 (default 10)",
        ),
        (
            {"DB_POOL_MAX_SIZE": "0"},
            'DB_POOL_MAX_SIZE: expected an integer >= 1, got "0"; '
            "set it to a whole number >= 1 (default 10)",
        ),
        (
            {"PORT": "70000"},
            'PORT: expected an integer between 1 and 65535, got "70000"; '
            "set it to a whole number between 1 and 65535 (default 8000)",
        ),
        (
            {"DB_CONNECT_TIMEOUT": "-1"},
            'DB_CONNECT_TIMEOUT: expected a number > 0, got "-1"; '
            "set it to a number > 0 (default 2.0)",
        ),
        (
            {"COOKIE_SECURE": "yes"},
            'COOKIE_SECURE: expected true or false, got "yes"; '
            "set it to true or false (default false)",
        ),
        (
            {"DB_POOL_MIN_SIZE": "20", "DB_POOL_MAX_SIZE": "10"},
            "DB_POOL_MIN_SIZE: expected at most DB_POOL_MAX_SIZE (10), got 20; "
            "lower DB_POOL_MIN_SIZE or raise DB_POOL_MAX_SIZE",
        ),
        (
            {"DEFAULT_PAGE_SIZE": "500"},
            "DEFAULT_PAGE_SIZE: expected at most MAX_PAGE_SIZE (100), got 500; "
            "lower DEFAULT_PAGE_SIZE or raise MAX_PAGE_SIZE",
        ),
        (
            {"BM25_LANGUAGE": "klingon"},
            "BM25_LANGUAGE: expected a language Qdrant's BM25 knows, "
            'got "klingon"; '
            "set it to one such as english (the default)",
        ),
        (
            {"BM25_AVG_LEN": "0"},
            'BM25_AVG_LEN: expected a number > 0, got "0"; set it to a number > 0 (default 90.0)',
        ),
        (
            {"LOG_LEVEL": "verbose"},
            "LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, "
            'got "verbose"; set it to one of those (default INFO)',
        ),
        (
            {"DATABASE_URL": "nonsense"},
            "DATABASE_URL: expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE, got a value "
            "that is not a URL; set it to such a URL (make run sets it to the embedded "
            "PostgreSQL when unset)",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_its_variable_and_the_fix(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environ, env_file=None)
    assert str(error.value) == message


def test_a_bad_value_from_the_env_file_says_so(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DB_POOL_MAX_SIZE=many\n")
    with pytest.raises(SettingsError, match=rf'got "many" \(in {env_file}\); set it'):
        load_settings({}, env_file=env_file)


def test_a_database_url_is_never_echoed() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({"DATABASE_URL": "mysql://admin:hunter2@db/chat"}, env_file=None)
    assert 'got a "mysql://" URL' in str(error.value)
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning", "error", "CRITICAL"])
def test_log_levels_are_taken_in_any_case(level: str) -> None:
    assert load_settings({"LOG_LEVEL": level}, env_file=None).log_level == level
