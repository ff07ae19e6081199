#!/bin/bash
# Runs once, when the server starts on an empty data directory: one database
# and one login role per service, each role owning only its own database, so
# no service can read another's tables.
set -euo pipefail

for service in enrolment matching scheduling analytics; do
    password_var="${service^^}_PASSWORD"
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --set=role="$service" --set=password="${!password_var}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
