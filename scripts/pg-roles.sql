-- Append-only role setup for the ledger on PostgreSQL (docs/reliability.md).
-- Rendered by: python -m ledger.store.append_only --schema ledger --app-role ledger_app
-- (tests/test_reliability.py checks this file matches; render your own names with it).
--
-- 1. Start the ledger once as the role that will OWN the tables (it creates them and
--    the append-only triggers), e.g. ledger status X --store "postgresql://owner@h/db?schema=ledger"
-- 2. As that owner (or a superuser):  psql -v ON_ERROR_STOP=1 -f scripts/pg-roles.sql db
--    then give the app role a password: ALTER ROLE ledger_app PASSWORD '...';
-- 3. Run the application as the app role with table creation off (it may not create):
--    LEDGER_CREATE_TABLE=n ledger apply cmds.jsonl --store "postgresql://ledger_app:PW@h/db?schema=ledger"
-- The app role may SELECT and INSERT events, never UPDATE or DELETE them; not being the
-- owner it cannot drop or disable the triggers. TRUNCATE is granted only because the
-- library's insert takes LOCK TABLE ... IN EXCLUSIVE MODE; the trigger refuses TRUNCATE.
DO $ledger$ BEGIN IF to_regclass('"ledger"."ledger_events"') IS NULL THEN RAISE EXCEPTION 'ledger.ledger_events does not exist: start the ledger once as the owner first'; END IF; END $ledger$;
DO $ledger$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger_app') THEN CREATE ROLE "ledger_app" LOGIN; END IF; END $ledger$;
GRANT USAGE ON SCHEMA "ledger" TO "ledger_app";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "ledger" TO "ledger_app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "ledger" TO "ledger_app";
ALTER DEFAULT PRIVILEGES IN SCHEMA "ledger" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "ledger_app";
ALTER DEFAULT PRIVILEGES IN SCHEMA "ledger" GRANT USAGE, SELECT ON SEQUENCES TO "ledger_app";
REVOKE UPDATE, DELETE ON "ledger"."ledger_events" FROM "ledger_app";
GRANT TRUNCATE ON "ledger"."ledger_events" TO "ledger_app";
