-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d):
-- one database per service that keeps a projection store, owned by the compose user.
CREATE DATABASE truenorth_metrics;
CREATE DATABASE truenorth_alignment;
