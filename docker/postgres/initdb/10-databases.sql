-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d),
-- as the POSTGRES_USER, who owns both databases. Optuna's studies and MLflow's runs get
-- a database each: both migrate their schema with Alembic and would share its
-- `alembic_version` table in one. tests/test_services.py creates its databases with
-- this very file.
CREATE DATABASE optuna;
CREATE DATABASE mlflow;
