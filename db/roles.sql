-- The Notification Service's PostgreSQL roles, for one database. Idempotent; run as a superuser (or a role with
-- CREATEROLE that owns the database) before the core first starts, and again after restoring a dump:
--
--   psql -h HOST -U postgres -v db=ns -v core_password='...' -v worker_password='...' -f db/roles.sql
--
-- `./ns` runs it for its own databases (ns, ns_test) without passwords: its cluster trusts connections on 127.0.0.1.
-- In production give both passwords (or set them later with ALTER ROLE ... PASSWORD), and require scram-sha-256 in
-- pg_hba.conf.
--
--   ns_core    owns the schemas ns (Marten: documents, events) and wolverine (the core's envelopes) and runs their
--              migrations. At start-up it grants ns_worker exactly what a worker needs (NotificationService.Storage
--              WorkerRole.cs), so the grants follow every migration.
--   ns_worker  what an adapter worker needs at runtime and nothing else: the job streams and Job documents, the send
--              rate-limit rows, reading the key ring, its own adapter row through ns.adapter_for_key (never the adapters
--              table), and its own schema wolverine_adapters (its envelopes), the only place where it may run DDL.
--              No access to services, service keys, offers, idempotency records, invites or the core's envelopes.
\set ON_ERROR_STOP on
\if :{?db}
\else
  \echo 'set the database: psql -v db=NAME -f db/roles.sql'
  \quit
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
-- PostgreSQL 15 already keeps everyone but the database owner from creating in schema public; older ones do not.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS ns AUTHORIZATION ns_core;
CREATE SCHEMA IF NOT EXISTS wolverine AUTHORIZATION ns_core;
CREATE SCHEMA IF NOT EXISTS wolverine_adapters AUTHORIZATION ns_worker;

-- A database the processes used to reach as the superuser: its objects change hands to the roles above.
DO $$
DECLARE
  target record;
BEGIN
  FOR target IN
    SELECT format('ALTER SCHEMA %I OWNER TO %I', nspname, owner) AS statement FROM (
      SELECT n.nspname, CASE n.nspname WHEN 'wolverine_adapters' THEN 'ns_worker' ELSE 'ns_core' END AS owner
      FROM pg_namespace n WHERE n.nspname IN ('ns', 'wolverine', 'wolverine_adapters')) s
    UNION ALL
    -- Tables, views and free-standing sequences; indexes, and sequences a column owns, follow their table.
    SELECT format('ALTER %s %I.%I OWNER TO %I',
                  CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                  n.nspname, c.relname, CASE n.nspname WHEN 'wolverine_adapters' THEN 'ns_worker' ELSE 'ns_core' END)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('ns', 'wolverine', 'wolverine_adapters') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    UNION ALL
    SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, CASE n.nspname WHEN 'wolverine_adapters' THEN 'ns_worker' ELSE 'ns_core' END)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('ns', 'wolverine', 'wolverine_adapters')
    UNION ALL
    SELECT format('ALTER TYPE %s OWNER TO %I', t.oid::regtype, CASE n.nspname WHEN 'wolverine_adapters' THEN 'ns_worker' ELSE 'ns_core' END)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname IN ('ns', 'wolverine', 'wolverine_adapters') AND t.typtype IN ('c', 'e', 'd')
      AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
  LOOP
    EXECUTE target.statement;
  END LOOP;
END $$;
