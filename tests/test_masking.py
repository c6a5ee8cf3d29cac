"""Passwords masked in URLs and in free text (benchmark.system.masking), as every line, param,
tag and failure reason of the project shows them."""

from __future__ import annotations

import pytest

from benchmark.system.masking import mask_secrets, mask_url

# --- mask_url ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://user:secret@host:5432/db", "postgresql://user:***@host:5432/db"),
        ("postgresql://user:secret@host/db", "postgresql://user:***@host/db"),
        (
            "mysql+pymysql://bob:secret@db.example.org/optuna",
            "mysql+pymysql://bob:***@db.example.org/optuna",
        ),
        ("postgresql://user:p%40secret@host/db", "postgresql://user:***@host/db"),
    ],
)
def test_mask_url_replaces_the_password(url, masked):
    assert mask_url(url) == masked
    assert "secret" not in mask_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user@host:5432/db",
        "postgresql://host/db",
        "sqlite:///optuna-studies.db",
        "sqlite:////abs/path/studies.db",
        "notaurl",
    ],
)
def test_mask_url_without_password_is_unchanged(url):
    assert mask_url(url) == url


@pytest.mark.parametrize("password", ["se/cret", "se?cret", "se#cret"])
def test_mask_url_hides_passwords_that_sqlalchemy_accepts(password):
    from sqlalchemy.engine import make_url

    url = f"postgresql://user:{password}@host:5432/db"
    assert make_url(url).password == password  # a URL SQLAlchemy would connect with
    assert password not in mask_url(url)
    assert mask_url(url) == "postgresql://user:***@host:5432/db"


def test_mask_secrets_masks_every_url_in_free_text():
    text = (
        "could not reach postgresql://u:se/cr#et@db:5432/optuna nor "
        "http://bob:pw@mlflow:5000/api; sqlite:///x.db is fine"
    )
    masked = mask_secrets(text)
    assert masked == (
        "could not reach postgresql://u:***@db:5432/optuna nor "
        "http://bob:***@mlflow:5000/api; sqlite:///x.db is fine"
    )
    assert mask_secrets("postgresql://u@db/x") == "postgresql://u@db/x"
