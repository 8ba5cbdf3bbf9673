-- The Notification Service's PostgreSQL roles, for one database. Idempotent; run as a superuser before the core first
-- starts (and again after restoring a dump made elsewhere):
--
--   NS_CORE_PG_PASSWORD=... NS_WORKER_PG_PASSWORD=... psql -h HOST -U postgres -d ns -f db/roles.sql
--
-- (psql 15 or later; -v db=NAME picks another database than the one connected to, -v core_password=... and
-- -v worker_password=... are the other way to give the passwords.) `./ns` runs it for its own databases (ns, ns_test,
-- ns_bench) without passwords: its cluster trusts connections on 127.0.0.1. In production give both passwords (or set
-- them later with ALTER ROLE ... PASSWORD) and require scram-sha-256 in pg_hba.conf; no password given leaves a role's
-- password as it was.
--
--   ns_core    owns the schemas ns (Marten: documents, events) and wolverine (the core's envelopes) and runs their
--              migrations. At start-up it grants ns_worker exactly what a worker needs (NotificationService.Storage
--              WorkerRole.cs), so the grants follow every migration.
--   ns_worker  what an adapter worker needs at runtime and nothing else: the job streams and Job documents, the send
--              rate-limit rows, reading the key ring, its own adapter row through ns.adapter_for_key (never the adapters
--              table), and its own schema wolverine_adapters (its envelopes), the only place where it may run DDL.
--              No access to services, service keys, offers, idempotency records, invites or the core's envelopes.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
\if :{?db}
\else
  SELECT current_database() AS db \gset
\endif
\if :{?core_password}
\else
  \getenv core_password NS_CORE_PG_PASSWORD
\endif
\if :{?worker_password}
\else
  \getenv worker_password NS_WORKER_PG_PASSWORD
\endif

SELECT 'CREATE ROLE ns_core LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ns_core') \gexec
SELECT 'CREATE ROLE ns_worker LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ns_worker') \gexec
\if :{?core_password}
ALTER ROLE ns_core PASSWORD :'core_password';
\endif
\if :{?worker_password}
ALTER ROLE ns_worker PASSWORD :'worker_password';
\endif
-- The core may act as the worker role: it creates the worker's schema with the worker as owner, and a reset (tests,
-- benchmarks) can drop it. It gains nothing it did not have: everything the worker may touch, the core owns.
SELECT 'GRANT ns_worker TO ns_core'
WHERE NOT pg_has_role('ns_core', 'ns_worker', 'MEMBER') \gexec

GRANT CONNECT, CREATE, TEMPORARY ON DATABASE :"db" TO ns_core;
GRANT CONNECT ON DATABASE :"db" TO ns_worker;

\connect :"db"
SET client_min_messages = warning;
-- PostgreSQL 15 already keeps everyone but the database owner from creating in schema public; older ones do not.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS ns AUTHORIZATION ns_core;
CREATE SCHEMA IF NOT EXISTS wolverine AUTHORIZATION ns_core;
CREATE SCHEMA IF NOT EXISTS wolverine_adapters AUTHORIZATION ns_worker;

-- A database the processes used to reach as the superuser: its objects change hands to the roles above (only those
-- not already theirs: a change of owner locks the table).
DO $$
DECLARE
  target record;
BEGIN
  FOR target IN
    WITH owners(schema, owner) AS (VALUES ('ns', 'ns_core'), ('wolverine', 'ns_core'), ('wolverine_adapters', 'ns_worker'))
    SELECT format('ALTER SCHEMA %I OWNER TO %I', n.nspname, o.owner) AS statement
    FROM pg_namespace n JOIN owners o ON o.schema = n.nspname WHERE n.nspowner <> o.owner::regrole
    UNION ALL
    -- Tables, views and free-standing sequences; indexes, and sequences a column owns, follow their table.
    SELECT format('ALTER %s %I.%I OWNER TO %I',
                  CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                  n.nspname, c.relname, o.owner)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN owners o ON o.schema = n.nspname
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relowner <> o.owner::regrole
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    UNION ALL
    SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, o.owner)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN owners o ON o.schema = n.nspname
    WHERE p.proowner <> o.owner::regrole
    UNION ALL
    SELECT format('ALTER TYPE %s OWNER TO %I', t.oid::regtype, o.owner)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN owners o ON o.schema = n.nspname
    WHERE t.typtype IN ('c', 'e', 'd') AND t.typowner <> o.owner::regrole
      AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
  LOOP
    EXECUTE target.statement;
  END LOOP;
END $$;
